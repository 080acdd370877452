import Testing
@testable import Scheduling
import ServingTypes

func simulator(stages: Int, _ c: SchedulerConfiguration, fixed: Double = 1, perToken: Double = 0.05) -> PipelineSimulator {
    PipelineSimulator(stages: stages, cost: .init(fixed: fixed, perToken: perToken), scheduler: makeScheduler(c))
}

@Suite struct SimulatorTests {
    /// One round: every slot sends one equal batch at t = 0 (GPipe's single pass).
    @Test(arguments: [(2, 2), (4, 4), (4, 8), (3, 1), (4, 2), (8, 3)])
    func oneRoundOfEqualMicroBatchesHasTheGPipeBubble(p: Int, m: Int) {
        var sim = simulator(stages: p, config(m: m, batchTokens: 16))
        for i in 0 ..< m { sim.submit(request(UInt64(i + 1), prompt: 16, maxTokens: 1)) }
        sim.run()
        #expect(sim.sentBatches.count == m)
        #expect(Set(sim.sentBatches.map(\.slot)).count == m)
        let expected = Double(p - 1) / Double(m + p - 1)
        #expect(abs(sim.bubbleRatio - expected) < 1e-9, "P=\(p) M=\(m): \(sim.bubbleRatio) vs \(expected)")
        let c = 1 + 0.05 * 16
        #expect(abs(sim.makespan - Double(m + p - 1) * c) < 1e-9)
        #expect(sim.finished.count == m)
    }

    @Test(arguments: [2, 4])
    func aSingleMicroBatchLeavesAllButOneStageIdle(p: Int) {
        var sim = simulator(stages: p, config(m: 1, batchTokens: 8))
        for i in 1 ... 3 { sim.submit(request(UInt64(i), prompt: 5 + i, maxTokens: 20)) }
        sim.run()
        #expect(sim.sentBatches.count > 20)
        #expect(abs(sim.bubbleRatio - Double(p - 1) / Double(p)) < 1e-9)
    }

    @Test(arguments: [(4, 4), (4, 6), (2, 4)])
    func steadyStateWithEnoughMicroBatchesHasAlmostNoBubble(p: Int, m: Int) {
        var sim = simulator(stages: p, config(m: m, batchTokens: 64, kv: 8192, running: 64))
        for i in 0 ..< (4 * m) { sim.submit(request(UInt64(i + 1), prompt: 8, maxTokens: 200)) }
        sim.run()
        #expect(sim.finished.count == 4 * m)
        #expect(sim.finished.values.allSatisfy { $0.usage.completionTokens == 200 })
        #expect(sim.bubbleRatio < 0.05, "bubble \(sim.bubbleRatio)")
        // Once the pipeline is full, no stage waits at all.
        let mid = sim.makespan / 2
        #expect(sim.bubbleRatio(from: mid - 10, to: mid + 10) < 1e-9)
    }

    /// Short sequences decode in every slot; one long prompt arrives. Without chunking its single
    /// 1600-token micro-batch stalls every stage in turn; with chunks of the token budget riding
    /// in every slot's micro-batch, the micro-batches stay even.
    @Test func chunkedPrefillNarrowsTheBubbleOfALongPrompt() {
        func run(chunked: Bool) -> PipelineSimulator {
            let c = config(m: 4, batchTokens: chunked ? 64 : 2048, kv: 4096, running: 64, context: 2048, chunked: chunked)
            var sim = simulator(stages: 4, c, fixed: 1, perToken: 0.05)
            for i in 0 ..< 8 { sim.submit(request(UInt64(i + 1), prompt: 8, maxTokens: 120)) }
            sim.submit(request(100, prompt: 1600, maxTokens: 8), at: 30)
            sim.run()
            #expect(sim.finished.count == 9)
            return sim
        }
        let whole = run(chunked: false)
        let chunked = run(chunked: true)
        let bigBatch = whole.sentBatches.map(\.tokenCount).max() ?? 0
        #expect(bigBatch >= 1600)
        #expect((chunked.sentBatches.map(\.tokenCount).max() ?? 0) <= 64)
        #expect(chunked.bubbleRatio < whole.bubbleRatio, "chunked \(chunked.bubbleRatio) vs whole \(whole.bubbleRatio)")
        // Even micro-batches: the pipeline stays nearly full (about 0.03 against 0.29).
        #expect(chunked.bubbleRatio < 0.1)
        #expect(chunked.makespan < whole.makespan)
    }

    /// A burst of prompts into an idle pipeline: stage 2 waits for the first micro-batch to pass
    /// stage 1, and at the end stage 1 waits for the last to pass stage 2 — each wait one chunk's
    /// stage time. Chunks of max_batch_tokens / M tokens (what `prefill_chunk_tokens: auto` gives)
    /// shrink that fill and drain against chunks of the whole budget.
    @Test func shorterPrefillChunksShrinkTheFillAndDrainOfABurst() {
        func run(chunk: Int?) -> PipelineSimulator {
            let c = config(m: 4, batchTokens: 256, kv: 8192, running: 16, context: 512, chunk: chunk)
            // A batch's fixed cost as one token's (measured: ~0.1 ms a hop against ~3.5 ms per token on
            // a TinyLlama stage of 11 layers, so this is pessimistic).
            var sim = simulator(stages: 2, c, fixed: 0.05, perToken: 0.05)
            for i in 0 ..< 16 { sim.submit(request(UInt64(i + 1), prompt: 128, maxTokens: 1)) }
            sim.run()
            #expect(sim.finished.count == 16)
            return sim
        }
        let whole = run(chunk: nil)
        let short = run(chunk: 64)
        #expect((whole.sentBatches.map(\.tokenCount).max() ?? 0) == 256)
        #expect((short.sentBatches.map(\.tokenCount).max() ?? 0) == 64)
        // 8 batches of 256 tokens: (8 + 1) × 12.85; 32 of 64: (32 + 1) × 3.25 — the fixed cost is paid 4× as often.
        #expect(short.makespan < whole.makespan * 0.95, "short \(short.makespan) vs whole \(whole.makespan)")
        #expect(short.bubbleRatio < whole.bubbleRatio / 2, "short \(short.bubbleRatio) vs whole \(whole.bubbleRatio)")
    }

    /// Preemption and recompute do not change what is generated: the fake model samples as a
    /// function of (request, token index), like the real one of (seed, token index).
    @Test func tokensDoNotDependOnPreemption() {
        func tokensByRequest(kv: Int) -> ([SequenceID: [Int32]], Int) {
            let c = config(m: 3, batchTokens: 32, kv: kv, running: 64, context: 64)
            var sim = simulator(stages: 3, c)
            for i in 0 ..< 9 { sim.submit(request(UInt64(i + 1), prompt: 4 + 3 * i, maxTokens: 24), at: Double(i)) }
            sim.run()
            var out: [SequenceID: [Int32]] = [:]
            for (_, e) in sim.events {
                if case let .token(r, t, i) = e {
                    #expect(out[r, default: []].count == i)
                    out[r, default: []].append(t)
                }
            }
            #expect(sim.finished.count == 9)
            #expect(sim.scheduler.isIdle)
            return (out, sim.scheduler.counters.preempted)
        }
        let (roomy, none) = tokensByRequest(kv: 4096)
        let (tight, preemptions) = tokensByRequest(kv: 80)
        #expect(none == 0)
        #expect(preemptions > 0)
        #expect(roomy == tight)
        #expect(roomy.values.allSatisfy { $0.count == 24 })
    }

    @Test func queueFullRejectionsAreReportedBySimulation() {
        var sim = simulator(stages: 2, config(m: 2, queue: 2, running: 1))
        for i in 1 ... 5 { sim.submit(request(UInt64(i), prompt: 4, maxTokens: 2)) }
        sim.run()
        // At t = 0 the first is admitted at once, two more fit the queue, two are refused.
        #expect(sim.rejections.map(\.0) == [SequenceID(4), SequenceID(5)])
        #expect(sim.rejections.allSatisfy { $0.1 == .queueFull(capacity: 2) })
        #expect(sim.finished.count == 3)
    }
}
