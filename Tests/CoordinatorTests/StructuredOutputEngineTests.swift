import Constraints
import Foundation
import GGUF
import InProcessRing
import SyntheticModels
import ModelRuntime
import Scheduling
import ServingTypes
import Testing
import Tokenization
import WireProtocol
@testable import Coordinator

/// Structured output end to end on in-process rings: the last stage samples only tokens its
/// sequence's constraint allows, so every output is complete JSON of the schema's shape (ended by
/// the constraint even with ignore_eos), and the same for every stage split, micro-batch count and
/// batch mix, after a stage crash, a preemption and with prefix-cache hits. Unconstrained requests
/// in the same batches keep their solo tokens.
@Suite(.serialized) struct StructuredOutputEngineTests {
    typealias Outcome = PipelineEngineTests.Outcome

    /// Nothing in it is free text, so even a random model completes it within a few dozen tokens.
    static let schema = #"""
        {"type":"object","properties":{"ok":{"type":"boolean"},"n":{"type":"integer","minimum":0,"maximum":999},
        "color":{"enum":["red","green","blue"]},"flags":{"type":"array","items":{"type":"boolean"},"maxItems":3}},
        "required":["ok","n","color","flags"],"additionalProperties":false}
        """#
    static let constraint = OutputConstraint.jsonSchema(schema: schema, strict: true)

    /// tiny-gemma3 with a 1,024-position context: a random model likes whitespace, which costs
    /// a token per byte here (the constraint bounds each gap at 17 bytes).
    static func model() throws -> String {
        var spec = try #require(SyntheticModelSpec.preset("tiny-gemma3"))
        spec.context = 1024
        return try SyntheticModel.temporaryFile(spec)
    }

    static func engine(_ model: String, counts: [Int], microBatches: Int, kv: Int = 8192, block: Int? = nil, threads: Int = 1,
                       maxBatchTokens: Int = 16, rings: InProcessRingTests.Rings = .init()) throws -> PipelineEngine {
        let config = SchedulerConfiguration(microBatches: microBatches, maxBatchTokens: maxBatchTokens, kvCacheTokens: kv, maxQueue: 64,
                                            maxRunning: 64, contextLength: 1024, prefixCacheBlockTokens: block)
        return try InProcessRingTests.started(model, counts: counts, threads: threads, scheduler: config, rings: rings)
    }

    struct Job {
        var prompt: [Int32]
        var sampling: SamplingParameters
        var constraint: OutputConstraint?
        var ignoreEOS: Bool
        var maxTokens = 500
    }

    /// Constrained jobs (greedy and seeded, with and without ignore_eos, schema and JSON object),
    /// and every third job unconstrained.
    static func jobs(vocabulary: Int, count: Int, sharedPrefix: Int = 0) -> [Job] {
        func tokens(_ n: Int, _ seed: Int) -> [Int32] { (0 ..< n).map { Int32(3 + ($0 * 7919 + seed * 104_729) % (vocabulary - 10)) } }
        let prefix = tokens(sharedPrefix, 1)
        return (0 ..< count).map { i in
            let sampling = SamplingParameters(temperature: i % 2 == 0 ? 0 : 0.9, seed: UInt64(300 + i))
            let constraint: OutputConstraint? = i % 3 == 2 ? nil : (i % 4 == 1 ? .jsonObject : Self.constraint)
            return Job(prompt: [1] + prefix + tokens(3 + i % 7, 50 + i), sampling: sampling, constraint: constraint,
                       ignoreEOS: i % 2 == 1, maxTokens: constraint == .jsonObject ? 24 : 500)
        }
    }

    struct Result: Equatable {
        var tokens: [Int32]
        var text: String
        var finish: FinishReason?
    }

    static func run(_ engine: PipelineEngine, _ jobs: [Job], firstID: UInt64 = 1, waves: Int = 1) -> [Result] {
        let out = Outcome()
        let per = (jobs.count + waves - 1) / waves
        for w in 0 ..< waves {
            let range = (w * per) ..< min(jobs.count, (w + 1) * per)
            for i in range {
                let id = SequenceID(firstID + UInt64(i))
                let j = jobs[i]
                engine.submit(.init(id: id, prompt: j.prompt, stop: StopConditions(maxTokens: j.maxTokens, ignoreEOS: j.ignoreEOS),
                                    sampling: j.sampling, constraint: j.constraint), handler: out.handler(id))
            }
            #expect(out.wait(for: range.upperBound, seconds: 180))
        }
        return jobs.indices.map { i in
            let id = SequenceID(firstID + UInt64(i))
            #expect(out.failed[id] == nil, "job \(i): \(out.failed[id] ?? "")")
            return Result(tokens: out.tokens[id] ?? [], text: out.text[id] ?? "", finish: out.finished[id])
        }
    }

    /// Every constrained output is a complete document of its constraint (finished by the
    /// constraint, not by max_tokens), and the schema's fields have their shapes.
    static func expectValid(_ results: [Result], _ jobs: [Job], _ label: String) throws {
        for (i, (r, j)) in zip(results, jobs).enumerated() {
            guard let c = j.constraint else { continue }
            if c == .jsonObject && r.finish == .length { continue }  // free strings may run past max_tokens
            #expect(r.finish == .stop, "\(label) job \(i): \(String(describing: r.finish)) \(r.text.debugDescription) \(r.tokens.count) tokens, last \(r.tokens.suffix(8))")
            var state = try ConstraintCompiler.compile(c).start()
            #expect(state.advance(Array(r.text.utf8)) && state.isAccepting, "\(label) job \(i): \(r.text.debugDescription)")
            let parsed = try? JSONSerialization.jsonObject(with: Data(r.text.utf8), options: [.fragmentsAllowed])
            #expect(parsed != nil, "\(label) job \(i): \(r.text.debugDescription)")
            let object = parsed as? [String: Any]
            if c == .jsonObject { #expect(object != nil, "\(label) job \(i): \(r.text.debugDescription)") }
            guard c == Self.constraint, let object else { continue }
            #expect(Set(object.keys) == ["ok", "n", "color", "flags"], "\(label) job \(i): \(r.text)")
            #expect((object["n"] as? Int).map { (0 ... 999).contains($0) } == true, "\(label) job \(i): \(r.text)")
            #expect(["red", "green", "blue"].contains(object["color"] as? String ?? ""), "\(label) job \(i): \(r.text)")
            #expect(((object["flags"] as? [Any])?.count ?? 9) <= 3, "\(label) job \(i): \(r.text)")
        }
    }

    /// The unconstrained jobs' tokens from a plain single-model run (nil for constrained jobs).
    static func soloTokens(_ model: String, _ jobs: [Job]) throws -> [[Int32]?] {
        let file = try GGUFFile(path: model)
        let m = try LayerRangeModel(file: file, logger: ringLogger)
        let eog = try Tokenizer(gguf: file).eogIDs
        return try jobs.map { j in
            guard j.constraint == nil else { return nil }
            return try Generator(model: m).generate(prompt: j.prompt, maxTokens: j.maxTokens, sampling: j.sampling,
                                                    stopTokens: j.ignoreEOS ? [] : eog).tokens
        }
    }

    @Test func constrainedOutputIsValidAndTheSameForEverySplitAndBatchMix() throws {
        let model = try Self.model()
        let v = try GGUFFile(path: model).tensorInfo("token_embd.weight")!.dims[1]
        let jobs = Self.jobs(vocabulary: v, count: 12)
        let solo = try Self.soloTokens(model, jobs)
        var reference: [Result]?
        for (counts, m) in [([6], 1), ([3, 3], 3), ([2, 2, 2], 4), ([1, 5], 2)] {
            let engine = try Self.engine(model, counts: counts, microBatches: m)
            defer { engine.stop() }
            let results = Self.run(engine, jobs)
            try Self.expectValid(results, jobs, "\(counts)")
            for (i, s) in solo.enumerated() where s != nil {
                #expect(results[i].tokens == s, "\(counts) unconstrained job \(i)")
            }
            if let reference { #expect(results == reference, "\(counts) differs from \([6])") } else { reference = results }
            // One at a time: no batch mix at all, the same outputs.
            if counts == [3, 3] {
                let alone = jobs.indices.map { Self.run(engine, [jobs[$0]], firstID: 1000 + UInt64($0))[0] }
                #expect(alone == results, "one request at a time")
            }
        }
    }

    @Test func aCrashPreemptionAndPrefixHitsRebuildTheSameState() throws {
        let model = try Self.model()
        let v = try GGUFFile(path: model).tensorInfo("token_embd.weight")!.dims[1]
        let jobs = Self.jobs(vocabulary: v, count: 8, sharedPrefix: 24).filter { $0.constraint != nil }
        let plain = try Self.engine(model, counts: [6], microBatches: 1)
        let reference = Self.run(plain, jobs)
        plain.stop()
        try Self.expectValid(reference, jobs, "reference")

        // A stage crash mid-generation: every sequence is recomputed from prompt + generated tokens.
        let rings = InProcessRingTests.Rings()
        let crashing = try Self.engine(model, counts: [3, 3], microBatches: 3, rings: rings)
        defer { crashing.stop() }
        let out = Outcome()
        let fired = ManagedAtomicFlag()
        out.onToken = { id, count in if id == SequenceID(1), count == 6, fired.setOnce() { rings.current.crash(stage: 1) } }
        for (i, j) in jobs.enumerated() {
            let id = SequenceID(UInt64(i + 1))
            crashing.submit(.init(id: id, prompt: j.prompt, stop: StopConditions(maxTokens: j.maxTokens, ignoreEOS: j.ignoreEOS),
                                  sampling: j.sampling, constraint: j.constraint), handler: out.handler(id))
        }
        #expect(out.wait(for: jobs.count, seconds: 180))
        #expect(rings.count == 2, "the ring was restarted")
        for i in jobs.indices {
            let id = SequenceID(UInt64(i + 1))
            #expect(out.failed[id] == nil && out.tokens[id] == reference[i].tokens && out.text[id] == reference[i].text, "crash: job \(i)")
        }

        // A KV budget that forces preemptions (recompute with the generated tokens as prefill).
        let tight = try Self.engine(model, counts: [2, 4], microBatches: 2, kv: 1100)
        defer { tight.stop() }
        #expect(Self.run(tight, jobs, firstID: 100) == reference, "preempted")

        // The prefix cache: a shared prefix, then the same jobs again (their prompts and outputs hit).
        let cached = try Self.engine(model, counts: [3, 3], microBatches: 3, block: 4)
        defer { cached.stop() }
        #expect(Self.run(cached, jobs, firstID: 200, waves: 2) == reference, "prefix cache, first pass")
        #expect(Self.run(cached, jobs, firstID: 300) == reference, "prefix cache, again")
        #expect(cached.snapshot.prefixHitTokens > 0)
    }

    @Test func aConstraintTheStageCannotCompileFailsItsRequestNotTheStage() throws {
        let model = try Self.model()
        let engine = try Self.engine(model, counts: [3, 3], microBatches: 2)
        defer { engine.stop() }
        let out = Outcome()
        // The HTTP layer refuses this grammar; sent straight to the engine, the last stage does.
        engine.submit(.init(id: SequenceID(1), requestID: "cmpl-bad", prompt: [1, 40, 41], stop: StopConditions(maxTokens: 8),
                            constraint: .grammar("root ::= undefined-rule")), handler: out.handler(SequenceID(1)))
        #expect(out.wait(for: 1))
        let why = out.failed[SequenceID(1)] ?? ""
        #expect(why.contains("undefined-rule") && why.contains("cmpl-bad"), "\(why)")
        engine.submit(.init(id: SequenceID(2), prompt: [1, 40, 41], stop: StopConditions(maxTokens: 500), constraint: Self.constraint),
                      handler: out.handler(SequenceID(2)))
        #expect(out.wait(for: 2))
        #expect(out.finished[SequenceID(2)] == .stop && engine.snapshot.restarts == 0)
    }

    /// Gemma 3 270M with its chat template: a strict person schema (greedy and sampled), a JSON
    /// object, a forced tool call's array, beside an unconstrained chat — valid, and identical for
    /// 1, 2 and 3 stages, threads, micro-batch counts and prefix-cache hits.
    @Test(.enabled(if: ProcessInfo.processInfo.environment["PIPESERVE_MODEL"] != nil, "needs PIPESERVE_MODEL"))
    func gemmaOutputIsValidAndTheSameForOneTwoAndThreeStages() throws {
        let model = ProcessInfo.processInfo.environment["PIPESERVE_MODEL"] ?? ""
        let tokenizer = try Tokenizer(gguf: try GGUFFile(path: model))
        func chat(_ text: String) throws -> [Int32] {
            tokenizer.encode(try ChatTemplate.gemma.renderPrompt([.init(role: "system", content: "You answer in JSON."),
                                                                   .init(role: "user", content: text)]), addSpecial: true)
        }
        let person = OutputConstraint.jsonSchema(schema: #"""
            {"type":"object","properties":{"name":{"type":"string","maxLength":40},"age":{"type":"integer","minimum":0,"maximum":120},
            "city":{"type":"string","maxLength":40},"hobbies":{"type":"array","items":{"type":"string","maxLength":30},"maxItems":3}},
            "required":["name","age","city","hobbies"],"additionalProperties":false}
            """#, strict: true)
        let call = OutputConstraint.jsonSchema(schema: #"""
            {"type":"array","items":{"anyOf":[{"type":"object","properties":{"name":{"type":"string","enum":["get_weather"]},
            "parameters":{"type":"object","properties":{"city":{"type":"string"},"unit":{"enum":["celsius","fahrenheit"]}},
            "required":["city","unit"],"additionalProperties":false}},"required":["name","parameters"],"additionalProperties":false}]},
            "minItems":1,"maxItems":1}
            """#, strict: true)
        let jobs = [
            Job(prompt: try chat("Describe a fictional person: name, age, city and hobbies."), sampling: .greedy, constraint: person,
                ignoreEOS: false, maxTokens: 120),
            Job(prompt: try chat("Describe a fictional person: name, age, city and hobbies."),
                sampling: SamplingParameters(temperature: 0.8, seed: 3), constraint: person, ignoreEOS: true, maxTokens: 120),
            Job(prompt: try chat("Give me a JSON object about cats."), sampling: .greedy, constraint: .jsonObject, ignoreEOS: false,
                maxTokens: 40),
            Job(prompt: try chat("What is the weather in Paris? Call the tool."), sampling: SamplingParameters(temperature: 0.7, seed: 8),
                constraint: call, ignoreEOS: false, maxTokens: 60),
            Job(prompt: try chat("Say hello."), sampling: .greedy, constraint: nil, ignoreEOS: false, maxTokens: 12),
        ]
        var reference: [Result]?
        for (counts, m, threads, block) in [([18], 1, 1, nil), ([9, 9], 3, 2, 16), ([6, 6, 6], 4, 1, 16)] as [([Int], Int, Int, Int?)] {
            let engine = try Self.engine(model, counts: counts, microBatches: m, block: block, threads: threads, maxBatchTokens: 64)
            defer { engine.stop() }
            // Twice: the second wave hits the prefix cache where there is one.
            for firstID: UInt64 in [1, 100] {
                let results = Self.run(engine, jobs, firstID: firstID)
                try Self.expectValid(results, jobs, "gemma \(counts)")
                if let object = try? JSONSerialization.jsonObject(with: Data(results[3].text.utf8)) as? [[String: Any]] {
                    #expect(object.first?["name"] as? String == "get_weather", "\(results[3].text)")
                } else {
                    Issue.record("tool call \(results[3].text.debugDescription)")
                }
                if let reference { #expect(results == reference, "gemma \(counts) wave \(firstID)") } else { reference = results }
            }
            if block != nil { #expect(engine.snapshot.prefixHitTokens >= 5 * 16, "\(engine.snapshot.prefixHitTokens) cached") }
        }
    }
}
