import Testing
@testable import Scheduling
import ServingTypes

@Suite struct SubmissionTests {
    @Test func queueFullIsRejectedAndNothingKept() {
        var s = makeScheduler(config(queue: 2))
        submitOK(&s, request(1, prompt: 4))
        submitOK(&s, request(2, prompt: 4))
        #expect(s.submit(request(3, prompt: 4)) == .rejected(.queueFull(capacity: 2)))
        #expect(s.waitingCount == 2)
        #expect(!s.contains(SequenceID(3)))
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
        #expect(s.submit(request(1, prompt: 3)) == .rejected(.duplicateID(SequenceID(1))))
        #expect(s.counters.rejected == 3)
    }

    /// The caller's id is the KV id on the stages. Once a sequence has ended its id may be used
    /// again: the free of the old KV reaches the stages in-band, before the new prefill.
    @Test func anEndedSequencesIDMayBeUsedAgainAfterItsFree() {
        var s = makeScheduler(config())
        #expect(submitOK(&s, request(7, prompt: 3)) == SequenceID(7))
        let first = s.nextBatches()
        #expect(first.flatMap(\.entries).map(\.sequence) == [SequenceID(7)])
        let actions = s.cancel(SequenceID(7))
        submitOK(&s, request(7, prompt: 3))
        var freed = actions.contains { if case .free(let ids) = $0 { ids.contains(SequenceID(7)) } else { false } }
        var prefilled = false
        for batch in first { _ = s.complete(batch: batch.id, samples: []) }
        for _ in 0..<4 where !prefilled {
            for batch in s.nextBatches() {
                if batch.freeBefore.contains(SequenceID(7)) { freed = true }
                if batch.entries.contains(where: { $0.sequence == SequenceID(7) }) {
                    #expect(freed, "the new prefill of 7 came before the free of the old one")
                    prefilled = true
                }
                _ = s.complete(batch: batch.id, samples: [])
            }
        }
        #expect(prefilled)
    }
}
