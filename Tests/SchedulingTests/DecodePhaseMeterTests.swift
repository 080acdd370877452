import Testing
@testable import Scheduling
import ServingTypes

@Suite struct DecodePhaseMeterTests {
    private func batch(_ id: UInt64, decodes: Int, prefillTokens: Int = 0) -> PlannedBatch {
        var entries = (0 ..< decodes).map {
            BatchEntry(sequence: SequenceID(UInt64($0)), startPosition: 10, tokens: [7],
                       wantsSample: true, tokenIndex: 1, isPrefill: false)
        }
        if prefillTokens > 0 {
            entries.append(BatchEntry(sequence: SequenceID(99), startPosition: 0,
                                      tokens: Array(repeating: 5, count: prefillTokens), wantsSample: false, tokenIndex: 0, isPrefill: true))
        }
        return PlannedBatch(id: BatchID(id), slot: SlotIndex(0), entries: entries)
    }

    @Test func onlyDecodeOnlyIterationsCountAndEachRunsFromThePreviousReturn() {
        var m = DecodePhaseMeter()
        #expect(m.tokensPerSecond == nil)
        // Prefill iteration: sent at 1 s, back at 3 s.
        m.record(batch(1, decodes: 0, prefillTokens: 32), sampledTokens: 1, sentAt: 1_000_000_000, returnedAt: 3_000_000_000)
        #expect(m.prefillIterations == 1 && m.prefillNanoseconds == 2_000_000_000 && m.tokensPerSecond == nil)
        // Decode-only, sent 0.1 s after the return (coordinator work): that 0.1 s is its time too.
        m.record(batch(2, decodes: 4), sampledTokens: 4, sentAt: 3_100_000_000, returnedAt: 4_000_000_000)
        // Decodes with a prefill chunk riding along: not decode-only.
        m.record(batch(3, decodes: 4, prefillTokens: 8), sampledTokens: 4, sentAt: 4_000_000_000, returnedAt: 6_000_000_000)
        m.record(batch(4, decodes: 4), sampledTokens: 4, sentAt: 6_000_000_000, returnedAt: 7_000_000_000)
        #expect(m.iterations == 2 && m.tokens == 8 && m.nanoseconds == 2_000_000_000)
        #expect(m.prefillIterations == 2 && m.prefillNanoseconds == 4_000_000_000)
        #expect(m.tokensPerSecond == 4)
        // A decode-only batch that came back without samples spends time and yields nothing.
        m.record(batch(5, decodes: 4), sampledTokens: 0, sentAt: 7_000_000_000, returnedAt: 9_000_000_000)
        #expect(m.iterations == 3 && m.tokens == 8 && m.tokensPerSecond == 2)
    }

    /// One stage, one micro-batch, all prompts prefilled by the first iteration: every later
    /// iteration decodes the 4 sequences and costs fixed + 4 · perToken, so the decode rate is
    /// exactly 4 / 14 per time unit, llama-batched-bench's S_TG for this cost model.
    @Test func simulatedDecodePhaseMatchesTheCostModel() {
        let m = meter(stages: 1, microBatches: 1, requests: 4, prompt: 4, maxTokens: 6, batchTokens: 16, fixed: 10, perToken: 1)
        #expect(m.prefillIterations == 1)
        #expect(m.iterations == 5 && m.tokens == 20)
        #expect(m.nanoseconds == 5 * 14 * 1000)
        #expect(abs((m.tokensPerSecond ?? 0) - 4.0 / 14.0 * 1e6) < 1e-6)
    }

    /// Prompts that do not fit one iteration are chunked into iterations that also decode: those
    /// are left out, so decode-only time is exactly the sum of the decode-only batches' costs.
    @Test func staggeredPrefillIsLeftOut() {
        let c = config(m: 1, batchTokens: 8)
        var sim = simulator(stages: 1, c, fixed: 10, perToken: 1)
        for i in 1 ... 4 { sim.submit(request(UInt64(i), prompt: 4, maxTokens: 6)) }
        sim.run()
        let m = replay(sim)
        let decodeOnly = sim.sentBatches.filter { !$0.entries.contains(where: \.isPrefill) }
        let mixed = sim.sentBatches.filter { b in b.entries.contains(where: \.isPrefill) && b.entries.contains { !$0.isPrefill } }
        #expect(!mixed.isEmpty, "the scenario must put decodes beside prefill chunks")
        #expect(m.iterations == UInt64(decodeOnly.count))
        #expect(m.tokens == UInt64(decodeOnly.reduce(0) { $0 + $1.entries.count }))
        #expect(m.nanoseconds == UInt64(decodeOnly.reduce(0) { $0 + 10 + $1.tokenCount }) * 1000)
        #expect(m.tokens < 4 * 6)
    }

    /// Two stages, two micro-batches, one sequence per slot: a batch's round trip takes two
    /// stage times but one comes back every stage time, and that is the decode rate.
    @Test func severalMicroBatchesMeasureThroughputNotLatency() {
        let m = meter(stages: 2, microBatches: 2, requests: 2, prompt: 4, maxTokens: 20, batchTokens: 4, fixed: 5, perToken: 0)
        #expect(m.iterations > 30)
        #expect(m.tokens == m.iterations)
        #expect(abs((m.tokensPerSecond ?? 0) - 1.0 / 5.0 * 1e6) < 1e-6)
    }

    private func meter(stages: Int, microBatches: Int, requests: Int, prompt: Int, maxTokens: Int, batchTokens: Int,
                       fixed: Double, perToken: Double) -> DecodePhaseMeter {
        // All but the last request wait in the scheduler already, so the first plan sees them all
        // (the simulator plans after each arrival, which would send the first request alone).
        var scheduler = makeScheduler(config(m: microBatches, batchTokens: batchTokens))
        for i in 1 ..< requests { submitOK(&scheduler, request(UInt64(i), prompt: prompt, maxTokens: maxTokens)) }
        var sim = PipelineSimulator(stages: stages, cost: .init(fixed: fixed, perToken: perToken), scheduler: scheduler)
        sim.submit(request(UInt64(requests), prompt: prompt, maxTokens: maxTokens))
        sim.run()
        #expect(sim.finished.count == requests)
        return replay(sim)
    }

    /// Feeds the meter the simulated batches in return order; one time unit is 1000 ns.
    private func replay(_ sim: PipelineSimulator) -> DecodePhaseMeter {
        let first = sim.spans[0], last = sim.spans[sim.stageCount - 1]
        let sentAt = Dictionary(uniqueKeysWithValues: first.map { ($0.batch, $0.start) })
        let byID = Dictionary(uniqueKeysWithValues: sim.sentBatches.map { ($0.id, $0) })
        var m = DecodePhaseMeter()
        for span in last.sorted(by: { $0.end < $1.end }) {
            guard let b = byID[span.batch], let sent = sentAt[span.batch] else {
                Issue.record("span of unknown batch \(span.batch)")
                continue
            }
            m.record(b, sampledTokens: b.entries.filter(\.wantsSample).count, sentAt: UInt64(sent * 1000), returnedAt: UInt64(span.end * 1000))
        }
        return m
    }
}
