import Testing
@testable import Scheduling
import ServingTypes

/// A stage as the scheduler's plans see it: per sequence the token at each position its KV holds
/// (standing in for the KV of that position), and the blocks it keeps. It checks every rule a real
/// stage enforces — restores only into empty sequences from blocks it holds, chunks that follow
/// the cache, stores of positions it holds — and records what it holds for the tests to compare.
struct FakeStage {
    var kv: [SequenceID: [Int32]] = [:]
    var blocks: [UInt64: (start: Int, tokens: [Int32])] = [:]
    var restoredTokens = 0

    mutating func run(_ b: PlannedBatch, sourceLocation: SourceLocation = #_sourceLocation) {
        for id in b.freeBefore { kv[id] = nil }
        for n in b.dropBefore { blocks[n.rawValue] = nil }
        for e in b.entries {
            if !e.restoreBlocks.isEmpty {
                #expect(kv[e.sequence, default: []].isEmpty, "restore into a sequence that holds KV", sourceLocation: sourceLocation)
                var held: [Int32] = []
                for r in e.restoreBlocks {
                    guard let blk = blocks[r.name.rawValue] else {
                        Issue.record("restore of a block the stage does not hold", sourceLocation: sourceLocation); return
                    }
                    #expect(blk.start == held.count && r.startPosition == held.count, sourceLocation: sourceLocation)
                    held += blk.tokens
                }
                kv[e.sequence] = held
                restoredTokens += held.count
            }
            #expect(kv[e.sequence, default: []].count == e.startPosition, "chunk does not follow the cache", sourceLocation: sourceLocation)
            kv[e.sequence, default: []] += e.tokens
            for r in e.storeBlocks {
                let have = kv[e.sequence, default: []]
                #expect(r.startPosition + r.count <= have.count, sourceLocation: sourceLocation)
                blocks[r.name.rawValue] = (r.startPosition, Array(have[r.startPosition ..< r.startPosition + r.count]))
            }
        }
    }

    mutating func free(_ ids: [SequenceID]) {
        for id in ids { kv[id] = nil }
    }
}

/// What the coordinator sends into the FIFO ring: batches, and frees behind what is in flight.
enum RingItem {
    case batch(PlannedBatch)
    case free([SequenceID])
}

@Suite struct PrefixSchedulingTests {
    func prefixConfig(kv: Int = 4096, batchTokens: Int = 64, m: Int = 2, running: Int = 16, block: Int = 4,
                      chunk: Int? = nil) -> SchedulerConfiguration {
        SchedulerConfiguration(microBatches: m, maxBatchTokens: batchTokens, kvCacheTokens: kv, maxQueue: 64,
                               maxRunning: running, contextLength: min(kv, 256), prefillChunkTokens: chunk,
                               prefixCacheBlockTokens: block)
    }

    /// The token a fake last stage samples: a function of the sequence and index only.
    static func tok(_ e: BatchEntry) -> Int32 { Int32(7000 + Int(e.sequence.rawValue % 50) * 20 + e.tokenIndex % 20) }

    /// Runs everything to the end through a FIFO ring of `m` slots and a fake stage: batches and
    /// frees travel in the order they were sent; cancellations happen after the third batch.
    func drain(_ s: inout Scheduler, _ stage: inout FakeStage, cancel: Set<UInt64> = [],
               check: (Scheduler, FakeStage) -> Void = { _, _ in }) -> [SchedulerEvent] {
        var events: [SchedulerEvent] = []
        var ring: [RingItem] = s.nextBatches().map { .batch($0) }
        var rounds = 0
        func send(_ ev: [SchedulerEvent]) {
            events += ev
            let ids = freed(ev)
            if !ids.isEmpty { ring.append(.free(ids)) }
        }
        while !ring.isEmpty, rounds < 10000 {
            rounds += 1
            switch ring.removeFirst() {
            case let .free(ids): stage.free(ids)
            case let .batch(b):
                stage.run(b)
                check(s, stage)
                send(completeAll(&s, b, token: Self.tok))
            }
            if rounds == 3 { for id in cancel { send(s.cancel(SequenceID(id))) } }
            ring += s.nextBatches().map { .batch($0) }
        }
        #expect(s.isIdle)
        return events
    }

    @Test func aSharedPrefixIsComputedOnceAndTheLastPositionAlways() {
        var s = makeScheduler(prefixConfig())
        var stage = FakeStage()
        let system: [Int32] = Array(1 ... 10)  // two full blocks of 4, and 2 more
        submitOK(&s, SequenceRequest(id: SequenceID(1), prompt: system + [50, 51, 52], maxTokens: 2))
        _ = drain(&s, &stage)
        #expect(s.counters.prefixHitTokens == 0 && s.prefixCache!.count == 3, "blocks 0-2 stored (prompt 13 + 1 decode)")
        submitOK(&s, SequenceRequest(id: SequenceID(2), prompt: system + [60, 61, 62, 63, 64], maxTokens: 2))
        let b = s.nextBatches()
        let first = b.flatMap(\.entries).first { $0.sequence == SequenceID(2) }!
        #expect(first.startPosition == 8 && first.restoreBlocks.map(\.startPosition) == [0, 4])
        #expect(first.tokens == [9, 10, 60, 61, 62, 63, 64])
        for x in b { stage.run(x); stage.free(freed(completeAll(&s, x, token: Self.tok))) }
        _ = drain(&s, &stage)
        #expect(s.counters.prefixHitTokens == 8 && s.counters.prefixQueryTokens == 12 + 14)
        // The same prompt again: everything but the last position comes from the cache.
        submitOK(&s, SequenceRequest(id: SequenceID(3), prompt: system + [50, 51, 52], maxTokens: 1))
        let c = s.nextBatches().flatMap(\.entries).first { $0.sequence == SequenceID(3) }!
        #expect(c.startPosition == 12 && c.tokens == [52] && c.wantsSample)
    }

    @Test func aConversationsNextTurnHitsTheBlocksItsRepliesFilled() {
        var s = makeScheduler(prefixConfig())
        var stage = FakeStage()
        let turn1: [Int32] = Array(1 ... 6)
        submitOK(&s, SequenceRequest(id: SequenceID(1), prompt: turn1, maxTokens: 6))
        let ev = drain(&s, &stage)
        let reply = tokens(ev, for: 1).map(\.0)
        #expect(reply.count == 6)
        // Next turn: the first exchange + more. Positions 0-10 were computed (the last reply token
        // never was), so blocks 0-3 and 4-7 — the second filled by decodes — are cached.
        submitOK(&s, SequenceRequest(id: SequenceID(2), prompt: turn1 + reply + [90, 91], maxTokens: 1))
        let e = s.nextBatches().flatMap(\.entries).first!
        #expect(e.restoreBlocks.count == 2 && e.startPosition == 8)
    }

    @Test func identicalPromptsArrivingTogetherComputeThePrefixOnce() {
        var s = makeScheduler(prefixConfig(batchTokens: 8, chunk: 8))
        var stage = FakeStage()
        let prompt = (0 ..< 40).map { Int32(100 + $0) }
        for id in 1 ... 3 { submitOK(&s, SequenceRequest(id: SequenceID(UInt64(id)), prompt: prompt, maxTokens: 3)) }
        let events = drain(&s, &stage)
        // The first computes 40 positions; the two others restore 36 (9 blocks of the 39 before the
        // last) and compute the last 4; each decodes twice.
        #expect(s.counters.prefixHitTokens == 72)
        #expect(s.counters.tokensPlanned == 40 + 2 * 4 + 3 * 2)
        for id in UInt64(1) ... 3 { #expect(tokens(events, for: id).count == 3) }
    }

    @Test func cachedBlocksShareTheBudgetAndGoBeforeAnyRunningSequence() {
        // KV for 64 positions: each 20-token prompt stores 5 blocks; unrelated prompts evict older blocks.
        var s = makeScheduler(prefixConfig(kv: 64, running: 2))
        var stage = FakeStage()
        for id in UInt64(1) ... 12 {
            let prompt = (0 ..< 20).map { Int32(Int(id) * 1000 + $0) }
            submitOK(&s, SequenceRequest(id: SequenceID(id), prompt: prompt, maxTokens: 4))
        }
        _ = drain(&s, &stage) { s, _ in #expect(s.kvTokensUsed + s.kvTokensCached <= 64) }
        #expect(s.counters.finished == 12 && s.counters.preempted == 0)
        #expect(s.kvTokensCached > 0 && s.kvTokensCached <= 64)
        // The stage holds what the index holds once the drops not yet sent arrive.
        for n in s.pendingDrops { stage.blocks[n.rawValue] = nil }
        #expect(stage.blocks.count == s.prefixCache!.count)
    }

    /// A block stored by an entry of a batch and evicted for a later entry of the same batch is
    /// dropped after that batch, not before it (found by this test: the stage kept a block the
    /// index had forgotten).
    @Test func preemptionAndTheCacheAgree() {
        var s = makeScheduler(prefixConfig(kv: 64, running: 4))
        var stage = FakeStage()
        for id in UInt64(1) ... 12 {
            let prompt = (0 ..< 20).map { Int32(Int(id) * 1000 + $0) }
            submitOK(&s, SequenceRequest(id: SequenceID(id), prompt: prompt, maxTokens: 4))
        }
        _ = drain(&s, &stage) { s, _ in #expect(s.kvTokensUsed + s.kvTokensCached <= 64) }
        #expect(s.counters.finished == 12 && s.counters.preempted > 0)
        for n in s.pendingDrops { stage.blocks[n.rawValue] = nil }
        #expect(stage.blocks.count == s.prefixCache!.count)
    }

    @Test func randomWorkloadsKeepTheStageConsistentAndTheTokensUnchanged() {
        for seed in UInt64(1) ... 25 {
            var rng = SplitMix64(seed: seed)
            let prefixes: [[Int32]] = (0 ..< 3).map { p in (0 ..< Int(8 + rng.next() % 30)).map { Int32(p * 100 + $0) } }
            let block = [1, 3, 4, 16][Int(rng.next() % 4)]
            let kv = [256, 400, 2000][Int(rng.next() % 3)]
            var s = makeScheduler(prefixConfig(kv: kv, batchTokens: 16, m: 1 + Int(rng.next() % 3), running: 6, block: block,
                                               chunk: rng.next() % 2 == 0 ? nil : 5))
            var reference = makeScheduler(config(m: 2, batchTokens: 16, kv: kv, queue: 64, running: 6, context: 256))
            var stage = FakeStage()
            var refStage = FakeStage()
            var cancel: Set<UInt64> = []
            for id in UInt64(1) ... 14 {
                let p = prefixes[Int(rng.next() % 3)]
                let tail = (0 ..< Int(rng.next() % 12)).map { _ in Int32(rng.next() % 50) }
                let r = SequenceRequest(id: SequenceID(id), prompt: Array(p.prefix(Int(rng.next() % UInt64(p.count + 1)))) + tail + [1],
                                        maxTokens: 1 + Int(rng.next() % 12))
                submitOK(&s, r)
                submitOK(&reference, r)
                if rng.next() % 7 == 0 { cancel.insert(id) }
            }
            let events = drain(&s, &stage, cancel: cancel)
            let refEvents = drain(&reference, &refStage, cancel: cancel)
            #expect(s.counters.prefixHitTokens > 0 || block == 16, "seed \(seed): no hit")
            for id in UInt64(1) ... 14 where !cancel.contains(id) {
                #expect(tokens(events, for: id).map(\.0) == tokens(refEvents, for: id).map(\.0), "seed \(seed) request \(id)")
            }
            #expect(stage.kv.isEmpty, "seed \(seed): KV left on the stage")
            // The stage holds exactly the index's blocks once the pending drops are delivered.
            var finalStage = stage
            for n in s.pendingDrops { finalStage.blocks[n.rawValue] = nil }
            #expect(finalStage.blocks.count == s.prefixCache!.count, "seed \(seed)")
            #expect(s.kvTokensUsed == 0 && s.kvTokensCached <= kv)
        }
    }

    @Test func aLostBatchsStoredBlocksAreForgottenAndDropped() {
        var s = makeScheduler(prefixConfig(m: 1))
        let prompt = (0 ..< 12).map { Int32($0) }
        submitOK(&s, SequenceRequest(id: SequenceID(1), prompt: prompt, maxTokens: 2))
        let b = s.nextBatches()[0]
        #expect(b.entries[0].storeBlocks.count == 3 && s.prefixCache!.count == 3)
        _ = s.failSlot(b.slot)
        #expect(s.prefixCache!.count == 0)
        let again = s.nextBatches()[0]
        #expect(Set(again.dropBefore) == Set(b.entries[0].storeBlocks.map(\.name)))
        #expect(again.entries[0].restoreBlocks.isEmpty && again.entries[0].startPosition == 0)
    }

    @Test func aRestartForgetsEverything() {
        var s = makeScheduler(prefixConfig(m: 1))
        var stage = FakeStage()
        submitOK(&s, SequenceRequest(id: SequenceID(1), prompt: Array(0 ..< 12), maxTokens: 2))
        _ = drain(&s, &stage)
        submitOK(&s, SequenceRequest(id: SequenceID(2), prompt: Array(0 ..< 12), maxTokens: 2))
        _ = s.nextBatches()
        _ = s.failAll()
        #expect(s.prefixCache!.count == 0 && s.kvTokensCached == 0)
        let again = s.nextBatches()[0].entries[0]
        #expect(again.restoreBlocks.isEmpty && again.startPosition == 0)
    }
}
