import Testing
@testable import Scheduling
import ServingTypes

/// Stall-free mixing: while sequences decode, the prompt tokens the ring carries follow the
/// rotations the decoding streams see (additive increase below the aim, cut above the limit).
@Suite struct StallGuardTests {
    private let ms: UInt64 = 1_000_000

    @Test func noLimitUntilASoloRotationIsSeen() {
        var g = StallGuard(limit: 2, slots: 2, initial: 32, ceiling: 256)
        #expect(g.chunkTokens == nil)
        g.recordReturn(slot: 0, decodes: 1, pacedTokens: 0, otherPromptTokens: 0, promptInFlight: false, atNanoseconds: 100 * ms)
        #expect(g.chunkTokens == nil)  // one return is no rotation
        g.recordReturn(slot: 1, decodes: 0, pacedTokens: 0, otherPromptTokens: 0, promptInFlight: false, atNanoseconds: 110 * ms)
        g.recordReturn(slot: 1, decodes: 1, pacedTokens: 0, otherPromptTokens: 0, promptInFlight: false, atNanoseconds: 150 * ms)
        #expect(g.chunkTokens == nil)  // slot 1's previous batch did not decode: its streams waited for nothing
        g.recordReturn(slot: 0, decodes: 1, pacedTokens: 0, otherPromptTokens: 0, promptInFlight: false, atNanoseconds: 140 * ms)
        #expect(g.soloNanoseconds == 40e6 && g.chunkTokens == 32)
    }

    @Test func aRotationAboveTheLimitCutsBelowTheAimGrowsInBetweenHolds() {
        var d = Driver(limit: 2, initial: 40)  // solo 40 ms; aim = 1.7
        d.back(slot: 0, after: 90, tokens: 40)   // 2.25 × solo: cut
        #expect(d.g.allowance == 40 * 0.85 && d.g.stalledRotations == 1)
        d.back(slot: 0, after: 75, tokens: 34)   // 1.875: hold
        #expect(d.g.allowance == 34)
        d.back(slot: 0, after: 60, tokens: 34)   // 1.5: grow
        #expect(d.g.allowance == 34.5 && d.g.mixedRotations == 3)
        d.back(slot: 0, after: 50, tokens: 10)   // fast, but the allowance was not used: no evidence to grow on
        #expect(d.g.allowance == 34.5)
    }

    @Test func theAllowanceStaysBetweenFloorAndCeiling() {
        var d = Driver(limit: 2, initial: 6, ceiling: 7, floor: 5)
        for _ in 0 ..< 20 { d.back(slot: 0, after: 500, tokens: 6) }
        #expect(d.g.chunkTokens == 5)
        for _ in 0 ..< 20 { d.back(slot: 0, after: 41, tokens: 5) }
        #expect(d.g.chunkTokens == 7)
    }

    /// A chunk on its way through the stages slows the rotations that end before it returns:
    /// those must not be taken for solo ones (they would raise the baseline and let chunks grow).
    @Test func aRotationWithAChunkInTheRingTeachesNothing() {
        var d = Driver(limit: 2, initial: 40)
        d.back(slot: 0, after: 120, tokens: 0, promptInFlight: true)
        #expect(d.g.soloNanoseconds == 40e6 && d.g.mixedRotations == 0)
        // Slot 1 brings the prompt tokens back: its rotation (120 ms, 3 × solo) is a mixed one.
        d.back(slot: 1, after: 0, tokens: 40)
        #expect(d.g.mixedRotations == 1 && d.g.stalledRotations == 1 && d.g.allowance == 34)
        // Slot 0's next rotation saw those tokens come back too: mixed, fast, so the allowance grows.
        d.back(slot: 0, after: 40, tokens: 0)
        #expect(d.g.mixedRotations == 2 && d.g.allowance == 34.5 && d.g.soloNanoseconds == 40e6)
    }

    /// A short prompt's chunk is not paced: a rotation that carried one (and no paced tokens)
    /// neither cuts the allowance nor counts as solo.
    @Test func aShortPromptsRotationTeachesNothing() {
        var d = Driver(limit: 2, initial: 40)
        d.back(slot: 0, after: 400, tokens: 0, other: 64)
        #expect(d.g.allowance == 40 && d.g.mixedRotations == 0 && d.g.soloNanoseconds == 40e6)
    }

    /// After a failed batch or a ring restart, the gap to a slot's next return is no rotation.
    @Test func aFailureIsNoRotation() {
        var d = Driver(limit: 2, initial: 40)
        d.g.forgetReturn(of: 0)
        d.back(slot: 0, after: 5_000, tokens: 0)
        #expect(d.g.soloNanoseconds == 40e6)
        d.back(slot: 0, after: 60, tokens: 0)  // the next one is measured again
        #expect(d.g.soloNanoseconds == 60e6)
        d.g.forgetReturn(of: 7)  // no such slot: ignored
    }

    @Test func soloFollowsTheMachineSmoothly() {
        var g = StallGuard(limit: 2, slots: 1, initial: 8, ceiling: 64, smoothing: 0.5)
        g.recordReturn(slot: 0, decodes: 1, pacedTokens: 0, otherPromptTokens: 0, promptInFlight: false, atNanoseconds: 0)
        g.recordReturn(slot: 0, decodes: 1, pacedTokens: 0, otherPromptTokens: 0, promptInFlight: false, atNanoseconds: 10 * ms)
        g.recordReturn(slot: 0, decodes: 1, pacedTokens: 0, otherPromptTokens: 0, promptInFlight: false, atNanoseconds: 30 * ms)
        #expect(g.soloNanoseconds == 15e6)
    }

    @Test func aBadLimitIsRefused() {
        for bad in [1.0, 0.5, -3, .nan] {
            var c = config()
            c.decodeStallLimit = bad
            #expect(throws: SchedulingError.self) { try c.validate() }
        }
    }

    /// The scheduler limits prompt work only while some sequence decodes: then one micro-batch
    /// with prompt tokens is in the ring at a time, carrying what the guard allows.
    @Test func whileSequencesDecodeOneMicroBatchCarriesTheAllowance() throws {
        var c = config(m: 2, batchTokens: 256, kv: 4096, context: 1024, chunk: 64)
        c.decodeStallLimit = 2
        var s = makeScheduler(c)
        var now: UInt64 = 0
        func back(_ b: PlannedBatch, after t: UInt64) {
            now += t * ms
            s.recordReturn(of: b, atNanoseconds: now)
            _ = completeAll(&s, b)
        }
        // A prompt alone: chunks in both slots, as configured.
        submitOK(&s, request(1, prompt: 100, maxTokens: 200))
        var batches = s.nextBatches()
        #expect(batches.map { $0.entries.map(\.tokens.count) } == [[64], [36]])
        for b in batches { back(b, after: 10) }
        // Sequence 1 decodes: its rotations teach the solo latency (20 ms).
        for _ in 0 ..< 3 {
            batches = s.nextBatches()
            #expect(batches.count == 1 && batches[0].entries.count == 1 && !batches[0].entries[0].isPrefill)
            back(batches[0], after: 20)
        }
        #expect(s.stallGuard?.soloNanoseconds == 20e6 && s.decodingChunkTokens == 64)
        // A long prompt beside it: one micro-batch carries prompt tokens, the other none.
        submitOK(&s, request(2, prompt: 400, maxTokens: 4))
        batches = s.nextBatches()
        #expect(batches.count == 2)
        let prompt = batches.map { $0.entries.filter(\.isPrefill).reduce(0) { $0 + $1.tokens.count } }
        #expect(prompt.sorted() == [0, 64])
        // The decode's rotation took 3 × solo: the allowance is cut, and the next chunk follows it.
        let heavy = try #require(batches.first { $0.entries.contains(where: \.isPrefill) })
        let light = try #require(batches.first { !$0.entries.contains(where: \.isPrefill) })
        back(heavy, after: 60)
        back(light, after: 0)
        #expect(s.decodingChunkTokens == Int(64 * 0.85))
        // The long prompt's next chunk follows the allowance; a short prompt arriving now is not
        // paced (a one-off cost): it goes in a configured chunk beside it.
        submitOK(&s, request(3, prompt: 50, maxTokens: 4))
        let entries = s.nextBatches().flatMap(\.entries).filter(\.isPrefill)
        #expect(entries.filter { $0.sequence == SequenceID(2) }.map(\.tokens.count) == [Int(64 * 0.85)])
        #expect(entries.filter { $0.sequence == SequenceID(3) }.map(\.tokens.count) == [50])
    }

    /// Without decoding sequences nothing is paced: a long prompt fills every micro-batch.
    @Test func aLongPromptAloneIsNotPaced() {
        var c = config(m: 2, batchTokens: 64, kv: 4096, context: 1024, chunk: 64)
        c.decodeStallLimit = 2
        var s = makeScheduler(c)
        submitOK(&s, request(1, prompt: 300, maxTokens: 4))
        #expect(s.nextBatches().map(\.pacedPromptTokens) == [0, 0])
    }

    /// A guard that has seen solo rotations of 40 ms on slots 0 and 1, and a clock: `back`
    /// returns a batch of a slot `after` ms later than the previous return of any slot.
    private struct Driver {
        var g: StallGuard
        var now: UInt64 = 1_040_000_000

        init(limit: Double, initial: Int, ceiling: Int = 256, floor: Int = 4) {
            g = StallGuard(limit: limit, slots: 2, initial: initial, ceiling: ceiling, floor: floor, smoothing: 1)
            for t: UInt64 in [1_000_000_000, 1_040_000_000] {
                for slot in 0 ..< 2 { g.recordReturn(slot: slot, decodes: 1, pacedTokens: 0, otherPromptTokens: 0, promptInFlight: false, atNanoseconds: t) }
            }
        }

        mutating func back(slot: Int, after ms: UInt64, tokens: Int, other: Int = 0, promptInFlight: Bool = false) {
            now += ms * 1_000_000
            g.recordReturn(slot: slot, decodes: 1, pacedTokens: tokens, otherPromptTokens: other, promptInFlight: promptInFlight, atNanoseconds: now)
        }
    }
}
