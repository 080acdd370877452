import Testing
@testable import Scheduling

@Suite struct SubmissionTests {
    @Test func queueFullIsRejectedAndNothingKept() {
        var s = makeScheduler(config(queue: 2))
        submitOK(&s, request(1, prompt: 4))
        submitOK(&s, request(2, prompt: 4))
        #expect(s.submit(request(3, prompt: 4)) == .rejected(.queueFull(capacity: 2)))
        #expect(s.waitingCount == 2)
        #expect(s.sequenceID(for: RequestID(3)) == nil)
        // Admission frees queue room.
        _ = s.nextBatches()
        #expect(s.waitingCount == 0)
        submitOK(&s, request(3, prompt: 4))
    }

    @Test func contextLengthRejectionExplains() {
        var s = makeScheduler(config(context: 100))
        guard case let .rejected(.tooLong(reason)) = s.submit(request(1, prompt: 90, maxTokens: 11)) else {
            Issue.record("expected tooLong"); return
        }
        #expect(reason.contains("90") && reason.contains("11") && reason.contains("100"))
        submitOK(&s, request(2, prompt: 90, maxTokens: 10))  // exactly the context length is fine
    }

    @Test func emptyPromptBadMaxTokensAndDuplicateAreRejected() {
        var s = makeScheduler(config())
        #expect(s.submit(request(1, prompt: 0)) == .rejected(.emptyPrompt))
        #expect(s.submit(request(1, prompt: 3, maxTokens: 0)) == .rejected(.invalidMaxTokens(0)))
        submitOK(&s, request(1, prompt: 3))
        #expect(s.submit(request(1, prompt: 3)) == .rejected(.duplicateID(RequestID(1))))
        #expect(s.counters.rejected == 3)
    }

    @Test func sequenceIDsAreFreshEvenForAReusedRequestID() {
        var s = makeScheduler(config())
        let a = submitOK(&s, request(7, prompt: 3))
        _ = s.cancel(RequestID(7))
        let b = submitOK(&s, request(7, prompt: 3))
        #expect(a != b)
    }
}
