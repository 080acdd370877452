import Testing
@testable import Scheduling
import ServingTypes

@Suite struct CancellationTests {
    @Test func cancelWhileWaiting() {
        var s = makeScheduler(config(m: 1, running: 1))
        submitOK(&s, request(1, prompt: 4))
        submitOK(&s, request(2, prompt: 4))
        _ = s.nextBatches()
        #expect(s.waitingCount == 1)
        let actions = s.cancel(SequenceID(2))
        #expect(actions == [.finished(SequenceID(2), reason: .cancelled, usage: Usage(promptTokens: 4, completionTokens: 0))])
        #expect(s.waitingCount == 0 && s.counters.cancelled == 1)
        #expect(s.cancel(SequenceID(2)) == [])  // already gone
        #expect(s.cancel(SequenceID(99)) == [])
    }

    @Test func cancelWhileRunningBetweenBatches() {
        var s = makeScheduler(config(m: 1))
        let id = submitOK(&s, request(1, prompt: 4))
        let b = s.nextBatch(for: SlotIndex(0))!
        _ = completeAll(&s, b)
        #expect(s.kvTokensUsed == 4)
        let actions = s.cancel(SequenceID(1))
        #expect(actions == [.free([id]), .finished(SequenceID(1), reason: .cancelled,
                                                     usage: Usage(promptTokens: 4, completionTokens: 1))])
        #expect(s.kvTokensUsed == 0 && s.runningCount == 0)
        #expect(s.nextBatch(for: SlotIndex(0)) == nil)
    }

    @Test func cancelWhileInFlightFreesAtOnceAndIgnoresTheReturningSample() {
        var s = makeScheduler(config(m: 1, batchTokens: 4))
        let a = submitOK(&s, request(1, prompt: 10))
        submitOK(&s, request(2, prompt: 2))
        let b = s.nextBatch(for: SlotIndex(0))!  // chunk of request 1 in flight
        #expect(b.entries.map(\.sequence.rawValue) == [1])
        let actions = s.cancel(SequenceID(1))
        // The free is sent now: on the FIFO ring it follows the batch, so each stage computes the
        // chunk and then drops the KV; any batch planned afterwards arrives after the free.
        #expect(freed(actions) == [a])
        #expect(finish(actions, for: 1)?.0 == .cancelled)
        #expect(s.kvTokensUsed == 2)  // only request 2's reservation remains
        #expect(s.complete(batch: b.id, samples: [SampledToken(sequence: a, token: 5)]) == [])
        let next = s.nextBatch(for: SlotIndex(0))!
        #expect(next.entries.map(\.sequence.rawValue) == [2])
    }

    @Test func cancelOfAnAdmittedSequenceNeverSentNeedsNoFree() {
        var s = makeScheduler(config(m: 1, batchTokens: 4))
        submitOK(&s, request(1, prompt: 4))
        _ = s.nextBatch(for: SlotIndex(0))
        submitOK(&s, request(2, prompt: 4))
        _ = s.nextBatches()  // admitted into the busy slot, not sent
        #expect(s.runningCount == 2)
        #expect(s.cancel(SequenceID(2)).count == 1)  // just .finished
        #expect(s.kvTokensUsed == 4)
    }
}
