import Foundation
import GGUF
import InProcessRing
import ModelRuntime
import Scheduling
import ServingTypes
import Testing
import Tokenization
@testable import Coordinator

/// The prefix cache end to end on an in-process ring: requests whose prompts share prefixes —
/// arriving together, one after another, identical (as `n > 1`), a conversation's next turn —
/// produce exactly their solo tokens (greedy and seeded) for every stage split and micro-batch
/// count, while most of their prompts come from the cache; a crashed stage empties it and
/// recompute still gives the same tokens.
@Suite(.serialized) struct PrefixCacheEngineTests {
    typealias Outcome = PipelineEngineTests.Outcome

    static func engine(_ model: String, counts: [Int], microBatches: Int, block: Int?, maxBatchTokens: Int = 16,
                       kv: Int = 4096, context: Int = 256, rings: InProcessRingTests.Rings = .init()) throws -> PipelineEngine {
        let config = SchedulerConfiguration(microBatches: microBatches, maxBatchTokens: maxBatchTokens, kvCacheTokens: kv, maxQueue: 64,
                                            maxRunning: 64, contextLength: context, prefixCacheBlockTokens: block)
        return try InProcessRingTests.started(model, counts: counts, scheduler: config, rings: rings)
    }

    struct Job {
        var prompt: [Int32]
        var maxTokens: Int
        var sampling: SamplingParameters
    }

    /// Prompts over a few shared prefixes: identical ones, extensions of each other, unrelated.
    static func jobs(vocabulary: Int, prefixLength: Int, count: Int) -> [Job] {
        func tokens(_ n: Int, _ seed: Int) -> [Int32] { (0 ..< n).map { Int32(3 + ($0 * 7919 + seed * 104_729) % (vocabulary - 10)) } }
        let system = [tokens(prefixLength, 1), tokens(prefixLength / 2, 2)]
        return (0 ..< count).map { i in
            let tail = i % 4 == 3 ? [] : tokens(1 + (i * 5) % 9, 100 + i)
            var p = SamplingParameters(temperature: i % 2 == 0 ? 0 : 0.8, seed: UInt64(200 + i))
            if i % 4 == 3 { p.seed = 201 }  // identical prompt and seed: the same tokens
            return Job(prompt: [1] + system[i % 2] + (i % 4 == 3 ? tokens(3, 7) : tail), maxTokens: 6 + i % 5, sampling: p)
        }
    }

    static func solo(_ model: String, _ jobs: [Job]) throws -> [[Int32]] {
        let m = try LayerRangeModel(file: try GGUFFile(path: model), logger: ringLogger)
        return try jobs.map { try Generator(model: m).generate(prompt: $0.prompt, maxTokens: $0.maxTokens, sampling: $0.sampling).tokens }
    }

    /// Runs `jobs` in `waves` (each waits for the previous: later waves hit what earlier ones stored).
    static func run(_ engine: PipelineEngine, _ jobs: [Job], waves: Int, firstID: UInt64 = 1) -> Outcome {
        let out = Outcome()
        let per = (jobs.count + waves - 1) / waves
        for w in 0 ..< waves {
            let range = (w * per) ..< min(jobs.count, (w + 1) * per)
            for i in range {
                let id = SequenceID(firstID + UInt64(i))
                engine.submit(.init(id: id, prompt: jobs[i].prompt, maxTokens: jobs[i].maxTokens, sampling: jobs[i].sampling),
                              handler: out.handler(id))
            }
            #expect(out.wait(for: range.upperBound, seconds: 120))
        }
        return out
    }

    static func expectSolo(_ out: Outcome, _ expected: [[Int32]], firstID: UInt64 = 1, _ label: String) {
        for i in expected.indices {
            let id = SequenceID(firstID + UInt64(i))
            #expect(out.failed[id] == nil, "\(label) request \(i): \(out.failed[id] ?? "")")
            #expect(out.tokens[id] == expected[i], "\(label) request \(i)")
        }
    }

    @Test func sharedPrefixesGiveTheirSoloTokensForEverySplit() throws {
        let model = try Ring.model("tiny-gemma3")  // sliding window 8
        let v = try GGUFFile(path: model).tensorInfo("token_embd.weight")!.dims[1]
        let jobs = Self.jobs(vocabulary: v, prefixLength: 40, count: 16)
        let expected = try Self.solo(model, jobs)
        for (counts, m, block) in [([3, 3], 3, 8), ([6], 1, 4), ([2, 2, 2], 4, 1), ([1, 5], 2, 8)] {
            let engine = try Self.engine(model, counts: counts, microBatches: m, block: block)
            defer { engine.stop() }
            // Together (prefix computed once, the others wait for it), then again one wave later.
            let out = Self.run(engine, jobs, waves: 1)
            Self.expectSolo(out, expected, "\(counts) m\(m) b\(block) together")
            let again = Self.run(engine, jobs, waves: 2, firstID: 100)
            Self.expectSolo(again, expected, firstID: 100, "\(counts) m\(m) b\(block) again")
            let s = engine.snapshot
            #expect(s.prefixHitTokens > s.prefixQueryTokens / 2, "\(counts): \(s.prefixHitTokens) of \(s.prefixQueryTokens) hit")
            #expect(s.prefixCacheBlocks > 0 && s.kvTokensCached == s.prefixCacheBlocks * block)
            for _ in 0 ..< 100 where engine.snapshot.running > 0 { usleep(10_000) }
            #expect(engine.snapshot.kvTokensUsed == 0)
        }
    }

    @Test func aSmallBudgetEvictsAndStillGivesTheSoloTokens() throws {
        let model = try Ring.model("tiny-gemma3")
        let v = try GGUFFile(path: model).tensorInfo("token_embd.weight")!.dims[1]
        let jobs = Self.jobs(vocabulary: v, prefixLength: 60, count: 12)
        let expected = try Self.solo(model, jobs)
        // KV for 256 positions in all: running requests and cached blocks compete.
        let engine = try Self.engine(model, counts: [3, 3], microBatches: 2, block: 4, kv: 256)
        defer { engine.stop() }
        Self.expectSolo(Self.run(engine, jobs, waves: 3), expected, "small budget")
        #expect(engine.snapshot.kvTokensCached <= 256)
    }

    @Test func aCrashEmptiesTheCacheAndRecomputeGivesTheSameTokens() throws {
        let model = try Ring.model("tiny-gemma3")
        let v = try GGUFFile(path: model).tensorInfo("token_embd.weight")!.dims[1]
        let jobs = Self.jobs(vocabulary: v, prefixLength: 40, count: 12)
        let expected = try Self.solo(model, jobs)
        let rings = InProcessRingTests.Rings()
        let engine = try Self.engine(model, counts: [3, 3], microBatches: 3, block: 8, rings: rings)
        defer { engine.stop() }
        Self.expectSolo(Self.run(engine, Array(jobs.prefix(4)), waves: 1), Array(expected.prefix(4)), "warm-up")
        let out = Outcome()
        let fired = ManagedAtomicFlag()
        out.onToken = { id, count in if id == SequenceID(1003), count == 3, fired.setOnce() { rings.current.crash(stage: 1) } }
        for (i, j) in jobs.enumerated() {
            let id = SequenceID(1000 + UInt64(i))
            engine.submit(.init(id: id, prompt: j.prompt, maxTokens: j.maxTokens, sampling: j.sampling), handler: out.handler(id))
        }
        #expect(out.wait(for: jobs.count, seconds: 120))
        Self.expectSolo(out, expected, firstID: 1000, "crash")
        #expect(engine.snapshot.restarts == 1 && rings.count == 2)
    }

    @Test func theRealModelGivesTheSameTokensWithAndWithoutAHit() throws {
        guard let model = ProcessInfo.processInfo.environment["PIPESERVE_MODEL"] else { return }
        let file = try GGUFFile(path: model)
        let tokenizer = try Tokenizer(gguf: file)
        let system = tokenizer.encode("You are a terse assistant for a shipping company. Answer in one sentence, cite the order number, "
            + "and never promise a delivery date. Orders: 1182 (two lamps, shipped Monday), 1183 (a rug, waiting for stock), "
            + "1184 (a desk, delivered).", addSpecial: true)
        let questions = ["Where is order 1182?", "Has the rug shipped?", "What was delivered?", "Where is order 1182?"]
        let jobs = questions.enumerated().map { i, q in
            Job(prompt: system + tokenizer.encode(" Question: " + q + " Answer:", addSpecial: false), maxTokens: 12,
                sampling: SamplingParameters(temperature: i == 1 ? 0.7 : 0, seed: 9))
        }
        let expected = try Self.solo(model, jobs)
        for (counts, m) in [([18], 1), ([9, 9], 3), ([6, 6, 6], 4)] {
            let engine = try Self.engine(model, counts: counts, microBatches: m, block: 16, maxBatchTokens: 64, context: 1024)
            defer { engine.stop() }
            let out = Self.run(engine, jobs, waves: 2)
            Self.expectSolo(out, expected, "gemma \(counts)")
            #expect(engine.snapshot.prefixHitTokens >= 3 * (system.count / 16) * 16, "\(engine.snapshot.prefixHitTokens)")
        }
    }
}
