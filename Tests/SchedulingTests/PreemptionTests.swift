import Testing
@testable import Scheduling
import ServingTypes

@Suite struct PreemptionTests {
    /// Two sequences of 10 + 12 tokens in one slot with KV for 32: after six decode rounds the
    /// budget is full, the newer one is preempted, recomputed after the older finishes, and
    /// completes with all its tokens, each emitted once.
    @Test func newestSequenceIsPreemptedAndRecomputed() {
        var s = makeScheduler(config(m: 1, batchTokens: 32, kv: 32, context: 32))
        let a = submitOK(&s, request(1, prompt: 10, maxTokens: 12))
        let b = submitOK(&s, request(2, prompt: 10, maxTokens: 12))
        func tok(_ e: BatchEntry) -> Int32 { Int32(e.sequence.rawValue * 100) + Int32(e.tokenIndex) }
        var events: [SchedulerEvent] = []
        var batches: [PlannedBatch] = []
        while let batch = s.nextBatch(for: SlotIndex(0)) {
            #expect(s.kvTokensUsed <= 32)
            batches.append(batch)
            events += completeAll(&s, batch, token: tok)
        }
        // Prefill + 6 decode rounds fill 32 tokens; in round 7 request 2 goes.
        let preempting = batches[7]
        #expect(preempting.freeBefore == [b])
        #expect(preempting.entries.map(\.sequence) == [a])
        #expect(s.counters.preempted == 1)
        // Its recompute: one prefill of prompt + the 7 tokens it had, sampling token index 7.
        guard let recompute = batches.first(where: { $0.entries.contains { $0.sequence == b && $0.isPrefill && $0.startPosition == 0 } && $0.id > preempting.id }) else {
            Issue.record("no recompute"); return
        }
        let entry = recompute.entries.first { $0.sequence == b }!
        #expect(entry.tokens == request(2, prompt: 10).prompt + (0 ..< 7).map { Int32(200 + $0) })
        #expect(entry.wantsSample && entry.tokenIndex == 7)
        // Request 1 had finished before there was room again.
        #expect(finish(events, for: 1)! == (.length, Usage(promptTokens: 10, completionTokens: 12)))
        #expect(finish(events, for: 2)! == (.length, Usage(promptTokens: 10, completionTokens: 12)))
        for r in [UInt64(1), 2] {
            #expect(tokens(events, for: r).map(\.1) == Array(0 ..< 12))
            #expect(tokens(events, for: r).map(\.0) == (0 ..< 12).map { Int32(r * 100) + Int32($0) })
        }
        #expect(s.isIdle && s.kvTokensUsed == 0)
        // Every free names request 2 once for the preemption and each sequence once at its end.
        #expect(freed(events).sorted() == [a, b])
    }

    @Test func whenTheNewestIsInFlightTheOlderPreemptsItself() {
        var s = makeScheduler(config(m: 2, batchTokens: 32, kv: 32, context: 32))
        submitOK(&s, request(1, prompt: 16, maxTokens: 16))
        submitOK(&s, request(2, prompt: 16, maxTokens: 16))
        var pending = s.nextBatches()
        #expect(pending.count == 2)
        var events: [SchedulerEvent] = []
        var rounds = 0
        while !pending.isEmpty, rounds < 1000 {
            rounds += 1
            let b = pending.removeFirst()  // FIFO like the ring
            events += completeAll(&s, b)
            #expect(s.kvTokensUsed <= 32)
            pending += s.nextBatches()
        }
        #expect(s.counters.preempted >= 1)
        for r in [UInt64(1), 2] {
            #expect(finish(events, for: r)?.1.completionTokens == 16)
            #expect(tokens(events, for: r).map(\.1) == Array(0 ..< 16))
        }
        #expect(s.isIdle)
    }
}
