import Testing
@testable import Scheduling
import ServingTypes

/// Stall-free mixing: while sequences decode, prompt chunks shrink to what fits beside them.
@Suite struct StallGuardTests {
    @Test func noLimitUntilBothCostsAreKnown() {
        var g = StallGuard(limit: 2)
        #expect(g.chunkTokens == nil)
        g.record(promptTokens: 64, decodeTokens: 0, computeNanoseconds: 90_000_000)  // a chunk before any decode: no base yet
        #expect(g.chunkTokens == nil && g.promptTokenNanoseconds == nil)
        g.record(promptTokens: 0, decodeTokens: 3, computeNanoseconds: 10_000_000)
        #expect(g.decodeStepNanoseconds == 10_000_000 && g.chunkTokens == nil)
        g.record(promptTokens: 0, decodeTokens: 0, computeNanoseconds: 5)  // nothing carried: ignored
        #expect(g.decodeStepNanoseconds == 10_000_000)
    }

    @Test func theChunkIsWhatFitsBesideADecodeStep() {
        var g = StallGuard(limit: 2, floor: 4, smoothing: 1)
        g.record(promptTokens: 0, decodeTokens: 1, computeNanoseconds: 10_000_000)
        g.record(promptTokens: 50, decodeTokens: 1, computeNanoseconds: 60_000_000)  // 1 ms per prompt token
        #expect(g.chunkTokens == 10)  // (2 − 1) × 10 ms / 1 ms
        var looser = StallGuard(limit: 3, floor: 4, smoothing: 1)
        looser.record(promptTokens: 0, decodeTokens: 1, computeNanoseconds: 10_000_000)
        looser.record(promptTokens: 50, decodeTokens: 1, computeNanoseconds: 60_000_000)
        #expect(looser.chunkTokens == 20)
        // A slow prompt token still leaves the floor.
        g.record(promptTokens: 10, decodeTokens: 0, computeNanoseconds: 1_010_000_000)
        #expect(g.chunkTokens == 4)
    }

    @Test func itFollowsTheMachinesSpeedSmoothly() {
        var g = StallGuard(limit: 2, floor: 1, smoothing: 0.5)
        g.record(promptTokens: 0, decodeTokens: 1, computeNanoseconds: 10_000_000)
        g.record(promptTokens: 0, decodeTokens: 1, computeNanoseconds: 20_000_000)
        #expect(g.decodeStepNanoseconds == 15_000_000)
    }

    @Test func aBadLimitIsRefused() {
        for bad in [1.0, 0.5, -3, .nan] {
            var c = config()
            c.decodeStallLimit = bad
            #expect(throws: SchedulingError.self) { try c.validate() }
        }
    }

    /// The scheduler limits chunks only while some sequence decodes, and learns the costs from
    /// the batches that come back.
    @Test func chunksShrinkOnlyWhileSequencesDecode() throws {
        var c = config(m: 1, batchTokens: 256, kv: 4096, context: 1024, chunk: 200)
        c.decodeStallLimit = 2
        var s = makeScheduler(c)
        // A long prompt alone: full chunks.
        submitOK(&s, request(1, prompt: 300, maxTokens: 50))
        let first = try #require(next(&s))
        #expect(first.entries.map(\.tokens.count) == [200])
        s.recordCompute(of: first, computeNanoseconds: 210_000_000)  // no decode step known yet: nothing learnt
        _ = completeAll(&s, first)
        let second = try #require(next(&s))
        #expect(second.entries.map(\.tokens.count) == [100])
        _ = completeAll(&s, second)
        // Sequence 1 decodes: its decode-only steps teach the base cost (10 ms).
        for _ in 0..<3 {
            let d = try #require(next(&s))
            #expect(d.entries.count == 1 && !d.entries[0].isPrefill)
            s.recordCompute(of: d, computeNanoseconds: 10_000_000)
            _ = completeAll(&s, d)
        }
        // A new long prompt beside the decode: still the full chunk (no per-token cost known yet),
        // and that batch teaches the cost per prompt token (1 ms).
        submitOK(&s, request(2, prompt: 400, maxTokens: 4))
        let mixed = try #require(next(&s))
        #expect(mixed.entries.map(\.tokens.count) == [1, 200])
        s.recordCompute(of: mixed, computeNanoseconds: 210_000_000)
        _ = completeAll(&s, mixed)
        #expect(s.decodingChunkTokens == 10)
        // Now the prompt goes on in chunks that fit beside the decode step.
        let limited = try #require(next(&s))
        #expect(limited.entries.map(\.tokens.count) == [1, 10])
    }

    private func next(_ s: inout Scheduler) -> PlannedBatch? { s.nextBatch(for: SlotIndex(0)) }
}
