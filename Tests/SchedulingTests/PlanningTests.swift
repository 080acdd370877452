import Testing
@testable import Scheduling
import ServingTypes

@Suite struct PlanningTests {
    @Test func admitsInFIFOOrderOntoTheLightestSlot() {
        var s = makeScheduler(config(m: 3, batchTokens: 32))
        submitOK(&s, request(1, prompt: 10))
        submitOK(&s, request(2, prompt: 4))
        submitOK(&s, request(3, prompt: 6))
        submitOK(&s, request(4, prompt: 2))   // slot 1 (load 4) is lighter than slot 2 (6)
        submitOK(&s, request(5, prompt: 3))   // slots 1 and 2 tie at 6 → lowest index
        let batches = s.nextBatches()
        #expect(batches.map(\.slot.rawValue) == [0, 1, 2])
        #expect(batches.map { $0.entries.map(\.sequence.rawValue) } == [[1], [2, 4, 5], [3]])
        #expect(s.slotLoads == [0 + 1, 3, 1])  // everything sent: one decode each to come
        #expect(s.runningCount == 5 && s.waitingCount == 0)
        #expect(s.kvTokensUsed == 25)
        #expect(s.tokensInFlight == 25)
        #expect(batches.allSatisfy { $0.entries.allSatisfy { $0.isPrefill && $0.wantsSample && $0.startPosition == 0 } })
    }

    @Test func admissionStopsAtTheFirstThatDoesNotFitTheKVBudget() {
        var s = makeScheduler(config(m: 2, batchTokens: 256, kv: 256, context: 256))
        submitOK(&s, request(1, prompt: 200))
        submitOK(&s, request(2, prompt: 100))  // 300 > 256: waits
        submitOK(&s, request(3, prompt: 10))   // would fit, but does not overtake
        let batches = s.nextBatches()
        #expect(batches.count == 1)
        #expect(s.runningCount == 1 && s.waitingCount == 2)
        #expect(s.kvTokensUsed == 200)
        // Cancelling request 1 while its batch is in the ring releases its reservation at once
        // (the free travels behind the batch); the next plans admit both waiting requests.
        let actions = s.cancel(SequenceID(1))
        #expect(freed(actions) == [batches[0].entries[0].sequence])
        #expect(s.kvTokensUsed == 0)
        let next = s.nextBatches()
        // Both slots are empty (load 0): request 2's home is slot 0 (tie → lowest index), whose
        // batch is still in the ring, request 3's is slot 1. Slot 1 carries its own prefill and,
        // since slot 0 is busy, request 2's too.
        #expect(next.map(\.slot.rawValue) == [1])
        #expect(next.flatMap { $0.entries.map(\.sequence.rawValue) } == [3, 2])
        #expect(s.slot(of: SequenceID(2)) == SlotIndex(0))
        #expect(s.runningCount == 2 && s.kvTokensUsed == 110)
        #expect(completeAll(&s, batches[0]) == [])  // the cancelled sequence's sample is ignored
        #expect(s.nextBatch(for: SlotIndex(0)) == nil)  // request 2's sample is not back yet
        _ = completeAll(&s, next[0])
        let decode = s.nextBatch(for: SlotIndex(0))
        #expect(decode?.entries.map(\.sequence.rawValue) == [2])
        #expect(decode?.entries.first?.isPrefill == false)
    }

    @Test func chunksOfALongPromptRideInEverySlotInTurn() {
        var s = makeScheduler(config(m: 3, batchTokens: 8))
        submitOK(&s, request(1, prompt: 30))
        // Its home is slot 0; once slot 0's batch is out, slots 1 and 2 carry the next chunks at
        // once: the ring is FIFO, so every stage computes positions 0..<8 before 8..<16 and 16..<24.
        let batches = s.nextBatches()
        #expect(batches.map(\.slot.rawValue) == [0, 1, 2])
        guard batches.count == 3 else { return }
        #expect(batches.map { $0.entries[0].startPosition } == [0, 8, 16])
        #expect(batches.allSatisfy { !$0.entries[0].wantsSample })
        #expect(s.nextBatches().isEmpty)
        #expect(s.complete(batch: batches[0].id, samples: []) == [])
        let last = s.nextBatch(for: SlotIndex(0))!
        #expect(last.entries[0].startPosition == 24 && last.entries[0].tokens.count == 6 && last.entries[0].wantsSample)
        // No decode until the last chunk's sample is back, even though slots 1 and 2 return first.
        _ = s.complete(batch: batches[1].id, samples: [])
        _ = s.complete(batch: batches[2].id, samples: [])
        #expect(s.nextBatches().isEmpty)
        let ev = completeAll(&s, last)
        #expect(tokens(ev, for: 1).map(\.1) == [0])
        #expect(s.nextBatch(for: SlotIndex(0))?.entries.first?.startPosition == 30)
    }

    @Test func maxRunningLimitsAdmission() {
        var s = makeScheduler(config(m: 2, running: 2))
        for i in 1 ... 3 { submitOK(&s, request(UInt64(i), prompt: 2)) }
        _ = s.nextBatches()
        #expect(s.runningCount == 2 && s.waitingCount == 1)
    }

    @Test func chunkedPrefillSpansSeveralIterations() {
        var s = makeScheduler(config(m: 1, batchTokens: 8))
        submitOK(&s, request(1, prompt: 20))
        var b = s.nextBatch(for: SlotIndex(0))!
        #expect(b.entries.count == 1)
        #expect(b.entries[0].startPosition == 0 && b.entries[0].tokens.count == 8 && !b.entries[0].wantsSample)
        #expect(s.nextBatch(for: SlotIndex(0)) == nil)  // in flight
        #expect(s.complete(batch: b.id, samples: []) == [])
        b = s.nextBatch(for: SlotIndex(0))!
        #expect(b.entries[0].startPosition == 8 && b.entries[0].tokens == (8 ..< 16).map { Int32(1000 + $0) })
        #expect(!b.entries[0].wantsSample)
        #expect(s.complete(batch: b.id, samples: []) == [])
        b = s.nextBatch(for: SlotIndex(0))!
        #expect(b.entries[0].startPosition == 16 && b.entries[0].tokens.count == 4)
        #expect(b.entries[0].wantsSample && b.entries[0].tokenIndex == 0)
        let ev = completeAll(&s, b) { _ in 42 }
        #expect(ev == [.token(SequenceID(1), token: 42, index: 0)])
        b = s.nextBatch(for: SlotIndex(0))!
        #expect(b.entries == [BatchEntry(sequence: b.entries[0].sequence, startPosition: 20,
                                         tokens: [42], wantsSample: true, tokenIndex: 1, isPrefill: false)])
        #expect(s.kvTokensUsed == 21)
    }

    @Test func prefillChunkTokensCapThePromptTokensOfAMicroBatchButNotItsDecodes() {
        var s = makeScheduler(config(m: 1, batchTokens: 16, chunk: 5))
        #expect(s.configuration.effectivePrefillChunkTokens == 5)
        for i in 1 ... 6 { submitOK(&s, request(UInt64(i), prompt: 1)) }
        var b = s.nextBatch(for: SlotIndex(0))!
        #expect(b.entries.count == 5 && b.tokenCount == 5)  // five one-token prompts, the sixth waits
        _ = completeAll(&s, b)
        submitOK(&s, request(7, prompt: 12))
        b = s.nextBatch(for: SlotIndex(0))!
        // Five decodes (not limited by the chunk), then the sixth prompt and 4 tokens of the seventh.
        #expect(b.entries.filter { !$0.isPrefill }.count == 5)
        #expect(b.entries.filter(\.isPrefill).map(\.tokens.count) == [1, 4])
        _ = completeAll(&s, b)
        b = s.nextBatch(for: SlotIndex(0))!
        #expect(b.entries.filter(\.isPrefill).map(\.tokens.count) == [5])
        #expect(b.entries.filter(\.isPrefill).first?.startPosition == 4)
        // A chunk cap above the token budget is the budget.
        #expect(config(batchTokens: 16, chunk: 100).effectivePrefillChunkTokens == 16)
        #expect(config(batchTokens: 16).effectivePrefillChunkTokens == 16)
        #expect(throws: SchedulingError.self) { try config(chunk: 0).validate() }
    }

    @Test func prefillChunkFillsWhatTheDecodesLeave() {
        var s = makeScheduler(config(m: 1, batchTokens: 8))
        submitOK(&s, request(1, prompt: 3))
        submitOK(&s, request(2, prompt: 3))
        var b = s.nextBatch(for: SlotIndex(0))!
        #expect(b.tokenCount == 6)
        _ = completeAll(&s, b)
        submitOK(&s, request(3, prompt: 20))
        b = s.nextBatch(for: SlotIndex(0))!
        // Two decodes first, then a 6-token chunk of the new prompt.
        #expect(b.entries.map(\.sequence.rawValue) == [1, 2, 3])
        #expect(b.entries.map(\.tokens.count) == [1, 1, 6])
        #expect(b.entries.map(\.wantsSample) == [true, true, false])
        #expect(b.entries.map(\.startPosition) == [3, 3, 0])
        #expect(b.entries.map(\.tokenIndex)[0 ..< 2] == [1, 1])
    }

    @Test func decodesOfASlotTravelTogether() {
        var s = makeScheduler(config(m: 1, batchTokens: 16))
        for i in 1 ... 3 { submitOK(&s, request(UInt64(i), prompt: 2, maxTokens: 4)) }
        var b = s.nextBatch(for: SlotIndex(0))!
        for step in 0 ..< 3 {
            _ = completeAll(&s, b)
            b = s.nextBatch(for: SlotIndex(0))!
            #expect(b.entries.count == 3)
            #expect(b.entries.allSatisfy { !$0.isPrefill && $0.tokenIndex == step + 1 && $0.startPosition == 2 + step })
        }
        let last = completeAll(&s, b)
        #expect((1 ... 3).allSatisfy { finish(last, for: UInt64($0))?.0 == .length })
        #expect(s.nextBatch(for: SlotIndex(0)) == nil)
        #expect(s.isIdle && s.kvTokensUsed == 0)
    }

    @Test func withoutChunkingAPromptWaitsForAWholeIteration() {
        var s = makeScheduler(config(m: 1, batchTokens: 64, context: 64, chunked: false))
        submitOK(&s, request(1, prompt: 2, maxTokens: 10))
        submitOK(&s, request(2, prompt: 2, maxTokens: 10))
        var b = s.nextBatch(for: SlotIndex(0))!
        _ = completeAll(&s, b)
        submitOK(&s, request(3, prompt: 63, maxTokens: 1))
        b = s.nextBatch(for: SlotIndex(0))!
        #expect(b.entries.map(\.sequence.rawValue) == [1, 2])  // 2 decodes + 63 > 64: the prompt waits whole
        _ = completeAll(&s, b)
        _ = s.cancel(SequenceID(1))
        _ = s.cancel(SequenceID(2))
        b = s.nextBatch(for: SlotIndex(0))!
        #expect(b.entries.count == 1 && b.entries[0].tokens.count == 63 && b.entries[0].wantsSample)
    }

    @Test func outOfRangeOrBusySlotsPlanNothing() {
        var s = makeScheduler(config(m: 2))
        submitOK(&s, request(1, prompt: 4))
        #expect(s.nextBatch(for: SlotIndex(5)) == nil)
        #expect(s.nextBatch(for: SlotIndex(-1)) == nil)
        let b = s.nextBatch(for: SlotIndex(0))!
        #expect(s.isInFlight(SlotIndex(0)) && !s.isInFlight(SlotIndex(1)))
        #expect(s.nextBatch(for: SlotIndex(0)) == nil)
        #expect(s.nextBatch(for: SlotIndex(1)) == nil)  // nothing to do
        #expect(s.complete(batch: BatchID(b.id.rawValue + 100), samples: []) == [])  // unknown id ignored
        #expect(s.isInFlight(SlotIndex(0)))
    }
}

@Suite struct SlotCapacityTests {
    @Test func aSlotNeverHoldsMoreSequencesThanItsTokenBudget() {
        var s = makeScheduler(config(m: 2, batchTokens: 3, queue: 16, running: 16))
        for i in 1 ... 8 { submitOK(&s, request(UInt64(i), prompt: 2, maxTokens: 4)) }
        _ = s.nextBatches()
        #expect(s.slotSequenceCounts == [3, 3])
        #expect(s.waitingCount == 2)
    }
}
