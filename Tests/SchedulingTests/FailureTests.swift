import Testing
@testable import Scheduling
import ServingTypes

@Suite struct FailureTests {
    @Test func failAllRequeuesEverythingInAdmissionOrderAndKeepsTokens() {
        var s = makeScheduler(config(m: 2, batchTokens: 16, running: 3))
        for i in 1 ... 4 { submitOK(&s, request(UInt64(i), prompt: 4, maxTokens: 5)) }
        var batches = s.nextBatches()  // 1,3 on slot 0; 2 on slot 1; 4 waits
        var events: [SchedulerEvent] = []
        events += completeAll(&s, batches[0])
        batches = s.nextBatches()       // slot 0's decodes go out again, slot 1 still in flight
        #expect(s.runningCount == 3 && s.waitingCount == 1)
        let actions = s.failAll()
        #expect(freed(actions).count == 3)
        #expect(s.runningCount == 0 && s.waitingCount == 4 && s.kvTokensUsed == 0 && s.batchesInFlight == 0)
        // Stale completions are ignored.
        #expect(completeAll(&s, batches[0]) == [])
        // Re-driving finishes everything; requests 1 and 3 resume at token index 1.
        var pending = s.nextBatches()
        let resumed = pending.flatMap(\.entries).filter { $0.sequence == SequenceID(1) }
        #expect(resumed.first?.tokens.count == 5 && resumed.first?.tokenIndex == 1)
        var rounds = 0
        while !pending.isEmpty, rounds < 100 {
            rounds += 1
            events += completeAll(&s, pending.removeFirst())
            pending += s.nextBatches()
        }
        for r in 1 ... 4 {
            #expect(tokens(events, for: UInt64(r)).map(\.1) == Array(0 ..< 5))
            #expect(finish(events, for: UInt64(r))?.0 == .length)
        }
        #expect(s.isIdle)
    }

    @Test func failSlotRequeuesOnlyTheLostBatch() {
        var s = makeScheduler(config(m: 2, batchTokens: 16))
        submitOK(&s, request(1, prompt: 4))
        let seq2 = submitOK(&s, request(2, prompt: 4))
        let batches = s.nextBatches()
        #expect(batches.count == 2)
        _ = completeAll(&s, batches[0])
        let actions = s.failSlot(SlotIndex(1))
        #expect(actions == [.free([seq2])])
        #expect(s.waitingCount == 1 && s.runningCount == 1)
        #expect(s.failSlot(SlotIndex(1)) == [])          // nothing in flight there any more
        #expect(completeAll(&s, batches[1]) == [])       // the lost batch, if it shows up, is ignored
        let next = s.nextBatches()
        #expect(next.flatMap(\.entries).map(\.sequence.rawValue).sorted() == [1, 2])
    }

    @Test func aMissingSampleRequeuesTheSequence() {
        var s = makeScheduler(config(m: 1))
        let id = submitOK(&s, request(1, prompt: 4))
        let b = s.nextBatch(for: SlotIndex(0))!
        let ev = s.complete(batch: b.id, samples: [])
        #expect(ev == [.free([id])])
        #expect(s.waitingCount == 1)
        let again = s.nextBatch(for: SlotIndex(0))!
        #expect(again.entries.first?.tokens.count == 4 && again.entries.first?.tokenIndex == 0)
    }
}

@Suite struct PipelinedChunkFailureTests {
    @Test func losingOneChunkRequeuesTheSequenceAndIgnoresItsOtherChunks() {
        var s = makeScheduler(config(m: 3, batchTokens: 8))
        let id = submitOK(&s, request(1, prompt: 30, maxTokens: 3))
        let batches = s.nextBatches()
        #expect(batches.count == 3)
        #expect(s.failSlot(SlotIndex(1)) == [.free([id])])
        #expect(s.waitingCount == 1 && s.kvTokensUsed == 0)
        // The chunks in slots 0 and 2 come back; they belong to the old admission.
        #expect(s.complete(batch: batches[0].id, samples: []) == [])
        #expect(s.complete(batch: batches[2].id, samples: []) == [])
        var events: [SchedulerEvent] = []
        var pending = s.nextBatches()
        #expect(pending.first?.entries.first?.startPosition == 0)
        var rounds = 0
        while !pending.isEmpty, rounds < 100 {
            rounds += 1
            events += completeAll(&s, pending.removeFirst())
            pending += s.nextBatches()
        }
        #expect(tokens(events, for: 1).map(\.1) == [0, 1, 2])
        #expect(finish(events, for: 1)?.0 == .length)
        #expect(s.isIdle && s.kvTokensUsed == 0)
    }
}

@Suite struct ResizeTests {
    @Test func slotsChangeOnlyWhenNothingRunsAndWaitingSequencesResume() throws {
        var s = makeScheduler(config(m: 2, batchTokens: 16, running: 8))
        for i in 1 ... 3 { submitOK(&s, request(UInt64(i), prompt: 4, maxTokens: 4)) }
        var events: [SchedulerEvent] = []
        let first = s.nextBatches()
        #expect(throws: SchedulingError.self) { try s.resize(microBatches: 3) }  // sequences are running
        events += completeAll(&s, first[0])
        _ = s.failAll()
        try s.resize(microBatches: 3)
        #expect(s.configuration.microBatches == 3 && s.waitingCount == 3)
        #expect(throws: SchedulingError.self) { try s.resize(microBatches: 0) }
        #expect(throws: SchedulingError.self) { try s.resize(microBatches: 3, prefillChunkTokens: 0) }
        #expect(s.configuration.prefillChunkTokens == nil)
        try s.resize(microBatches: 3, prefillChunkTokens: 5)
        #expect(s.configuration.effectivePrefillChunkTokens == 5)
        var pending = s.nextBatches()
        #expect(Set(pending.map(\.slot.rawValue)) == [0, 1, 2])
        var rounds = 0
        while !pending.isEmpty, rounds < 100 {
            rounds += 1
            events += completeAll(&s, pending.removeFirst())
            pending += s.nextBatches()
        }
        for r in 1 ... 3 { #expect(tokens(events, for: UInt64(r)).map(\.1) == Array(0 ..< 4)) }
        #expect(s.isIdle)
    }
}
