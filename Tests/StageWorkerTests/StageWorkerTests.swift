import Constraints
import Foundation
import GGUF
import Logging
import SyntheticModels
import Tokenization
import Testing
import WireProtocol
@testable import ModelRuntime
@testable import StageWorker
import ServingTypes

@Suite struct HandshakeTests {
    let identity = ModelIdentity(fileSize: 1000, metadataHash: 42)

    func hello(_ edit: (inout WireHello) -> Void = { _ in }) -> WireHello {
        var h = WireHello(model: identity, stageCount: 3, receiver: .stage(StageIndex(1)), layerRange: 2..<4,
                          activationDType: .f32, sender: .stage(StageIndex(0)))
        edit(&h)
        return h
    }

    func refusal(_ h: WireHello) -> WireErrorReport? {
        Handshake.refusal(of: h, receiver: .stage(StageIndex(1)), identity: identity, stageCount: 3, layers: 2..<4, dtype: .f32)
    }

    @Test func aMatchingHelloIsAccepted() { #expect(refusal(hello()) == nil) }

    @Test func everyMismatchIsRefusedWithAReason() {
        let cases: [(WireHello, WireErrorCode, String)] = [
            (hello { $0.protocolVersion = 9 }, .versionMismatch, "protocol version 9"),
            (hello { $0.model = ModelIdentity(fileSize: 1000, metadataHash: 43) }, .modelMismatch, "differs"),
            (hello { $0.receiver = .stage(StageIndex(2)) }, .configurationMismatch, "addressed to"),
            (hello { $0.stageCount = 4 }, .configurationMismatch, "stage count 4"),
            (hello { $0.layerRange = 2..<5 }, .configurationMismatch, "layer range"),
            (hello { $0.activationDType = .bf16 }, .configurationMismatch, "dtype"),
        ]
        for (h, code, text) in cases {
            let r = refusal(h)
            #expect(r?.code == code && r?.message.contains(text) == true, "\(String(describing: r))")
        }
    }

    @Test func identityDependsOnHeaderAndSize() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pipeserve-sw-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let a = dir.appendingPathComponent("a.gguf").path, b = dir.appendingPathComponent("b.gguf").path
        try SyntheticModel.writer(SyntheticModelSpec.preset("tiny-llama")!).write(to: a)
        try SyntheticModel.writer(SyntheticModelSpec.preset("tiny-qwen2")!).write(to: b)
        let ia = ModelIdentity(file: try GGUFFile(path: a)), ib = ModelIdentity(file: try GGUFFile(path: b))
        #expect(ia != ib)
        #expect(ia == ModelIdentity(file: try GGUFFile(path: a)))
    }
}

@Suite struct StageEngineTests {
    func engine(_ layers: Range<Int>) throws -> StageEngine {
        let path = try SyntheticModel.temporaryFile(SyntheticModelSpec.preset("tiny-llama")!)
        return StageEngine(model: try LayerRangeModel(file: try GGUFFile(path: path), layers: layers, logger: Logger(label: "t")))
    }

    func entry(_ seq: UInt64, _ start: Int, _ tokens: [Int32], index: Int = 0, top: Int = 0) -> StageEngine.Entry {
        StageEngine.Entry(sequence: SequenceID(seq), startPosition: start, count: tokens.count, logits: .last, tokens: tokens,
                          sampling: .greedy, tokenIndex: index, topLogprobs: top, wantLogprob: top > 0)
    }

    @Test func splitEnginesSampleWhatOneEngineSamples() throws {
        let whole = try engine(0..<4), a = try engine(0..<3), b = try engine(3..<4)
        let batch = [entry(1, 0, [1, 5, 9, 300]), entry(2, 0, [1, 7], top: 3)]
        guard case let .samples(ref) = try whole.run(batch, hidden: nil),
              case let .hidden(h) = try a.run(batch, hidden: nil),
              case let .samples(split) = try b.run(batch, hidden: h) else {
            Issue.record("wrong output kinds"); return
        }
        #expect(ref == split)
        #expect(ref.count == 2 && ref[1].topLogprobs.count == 3 && ref[1].logprob != nil && ref[0].logprob == nil)
    }

    @Test func penaltiesSeeTheWholeHistoryAcrossChunks() throws {
        let e = try engine(0..<4)
        var p = SamplingParameters.greedy
        p.repetitionPenalty = 50
        var first = entry(1, 0, [1, 5, 9])
        first.logits = .none
        _ = try e.run([first], hidden: nil)
        var second = entry(1, 3, [300])
        second.sampling = p
        guard case let .samples(s) = try e.run([second], hidden: nil) else { Issue.record("no samples"); return }
        // Reference: one chunk with the same history.
        let f = try engine(0..<4)
        var whole = entry(2, 0, [1, 5, 9, 300])
        whole.sampling = p
        guard case let .samples(r) = try f.run([whole], hidden: nil) else { Issue.record("no samples"); return }
        #expect(s[0].token == r[0].token)
    }

    @Test func freeAndResetDropState() throws {
        let e = try engine(0..<4)
        _ = try e.run([entry(1, 0, [1, 2]), entry(2, 0, [1, 3])], hidden: nil)
        e.free([SequenceID(1)])
        #expect(e.model.sequenceCount == 1)
        e.reset()
        #expect(e.model.sequenceCount == 0 && e.model.kvCacheBytes == 0)
    }
}

/// Structured output on the last stage: masks, the end when nothing else is allowed, a constraint
/// that allows nothing, and a state rebuilt exactly when a sequence restarts from prefix-cache
/// blocks that cover its generated tokens (and its penalty history with it).
@Suite struct StageConstraintTests {
    let path: String
    let file: GGUFFile

    init() throws {
        path = try SyntheticModel.temporaryFile(SyntheticModelSpec.preset("tiny-llama")!)
        file = try GGUFFile(path: path)
    }

    func engine(_ vocabulary: (() throws -> TokenVocabulary)? = nil) throws -> StageEngine {
        let file = self.file
        return StageEngine(model: try LayerRangeModel(file: file, logger: Logger(label: "t")),
                           vocabulary: vocabulary ?? { try StageVocabulary.vocabulary(of: file, identity: ModelIdentity(file: file)) })
    }

    static let prompt: [Int32] = [1, 5, 9, 300]

    func step(_ e: StageEngine, _ seq: UInt64, start: Int, tokens: [Int32], index: Int, sampling: SamplingParameters,
              constraint: StageConstraint? = nil, restore: [KVBlockRef] = [], store: [KVBlockRef] = []) throws -> StageEngine.Sample {
        let entry = StageEngine.Entry(sequence: SequenceID(seq), startPosition: start, count: tokens.count, logits: .last, tokens: tokens,
                                      sampling: sampling, tokenIndex: index, restoreBlocks: restore, storeBlocks: store,
                                      constraint: constraint)
        guard case let .samples(s) = try e.run([entry], hidden: nil), let first = s.first else { throw StageError.link("no sample") }
        return first
    }

    /// Block i holds positions [2i, 2i + 2), named 100 + i.
    static func blocks(completedBy start: Int, count: Int) -> [KVBlockRef] {
        (start ..< start + count).filter { $0 % 2 == 1 }.map { KVBlockRef(name: UInt64(100 + $0 / 2), startPosition: $0 - 1, count: 2) }
    }

    @Test func everySampledTokenKeepsTheOutputInsideTheConstraintAndTheEndIsForced() throws {
        let e = try engine()
        let tokenizer = try Tokenizer(gguf: file)
        let c = StageConstraint(constraint: .grammar(#"root ::= "{" [a-c]{2,5} "}""#), promptLength: 4, ignoresEOS: true)
        var sampling = SamplingParameters(temperature: 1.5, seed: 11)
        sampling.topK = 0
        var tokens: [Int32] = []
        var s = try step(e, 1, start: 0, tokens: Self.prompt, index: 0, sampling: sampling, constraint: c)
        while !tokenizer.eogIDs.contains(s.token) && tokens.count < 20 {
            tokens.append(s.token)
            s = try step(e, 1, start: Self.prompt.count + tokens.count - 1, tokens: [s.token], index: tokens.count, sampling: sampling)
        }
        let text = tokenizer.decode(tokens)
        #expect(tokenizer.eogIDs.contains(s.token) && !s.constraintDead, "\(text)")
        #expect(text.wholeMatch(of: /\{[a-c]{2,5}\}/) != nil, "\(text.debugDescription)")
    }

    @Test func theWireCarriesEveryConstraintTheCompilerAccepts() {
        #expect(WireConstraint.maxSourceBytes == ConstraintLimits.default.maxSourceBytes)
    }

    @Test func aConstraintThatAllowsNoTokenEndsTheSequence() throws {
        // A vocabulary in which every token is "a": no JSON object can start.
        let count = try Tokenizer(gguf: file).vocabularySize
        let e = try engine { TokenVocabulary(tokenBytes: (0 ..< count).map { $0 == 2 ? [] : [0x61] }, endOfGeneration: [2]) }
        let s = try step(e, 1, start: 0, tokens: Self.prompt, index: 0, sampling: .greedy,
                         constraint: StageConstraint(constraint: .jsonObject, promptLength: 4))
        #expect(s.constraintDead && s.token == 2)
    }

    @Test func aConstraintThatDoesNotCompileFailsTheBatchBeforeAnythingRuns() throws {
        let e = try engine()
        #expect(throws: StageConstraintError.self) {
            try step(e, 1, start: 0, tokens: Self.prompt, index: 0, sampling: .greedy,
                     constraint: StageConstraint(constraint: .grammar("root ::= nowhere"), promptLength: 4))
        }
        #expect(e.model.sequenceCount == 0)
    }

    /// A run of 10 tokens; then a new sequence restored from the blocks over the prompt and the
    /// first 4 generated tokens continues with the same tokens (constraint state and penalty
    /// history rebuilt from the blocks' tokens), greedy and sampled.
    @Test(arguments: [(0, true), (0.8, true), (0.8, false)] as [(Float, Bool)])
    func aRestoreOverGeneratedTokensContinuesUnchanged(temperature: Float, constrained: Bool) throws {
        let e = try engine()
        var sampling = SamplingParameters(temperature: temperature, seed: 5)
        sampling.repetitionPenalty = 1.5
        let grammar = OutputConstraint.grammar("root ::= [a-z]{40}")  // no end within 10 tokens
        let c = constrained ? StageConstraint(constraint: grammar, promptLength: Self.prompt.count) : nil
        var tokens: [Int32] = [try step(e, 1, start: 0, tokens: Self.prompt, index: 0, sampling: sampling, constraint: c,
                                        store: Self.blocks(completedBy: 0, count: 4)).token]
        for k in 1 ..< 10 {
            let start = Self.prompt.count + k - 1
            tokens.append(try step(e, 1, start: start, tokens: [tokens[k - 1]], index: k, sampling: sampling,
                                   store: Self.blocks(completedBy: start, count: 1)).token)
        }
        e.free([SequenceID(1)])
        // Blocks 100...103 hold positions 0 ..< 8: the prompt and generated tokens 0 ... 3.
        let restore = (0 ..< 4).map { KVBlockRef(name: UInt64(100 + $0), startPosition: 2 * $0, count: 2) }
        var again = [try step(e, 2, start: 8, tokens: [tokens[4]], index: 5, sampling: sampling, constraint: c, restore: restore).token]
        for k in 6 ..< 10 {
            again.append(try step(e, 2, start: Self.prompt.count + k - 1, tokens: [again.last!], index: k, sampling: sampling).token)
        }
        #expect(again == Array(tokens[5...]), "restored \(again) vs \(tokens)")
        if constrained {
            var state = try ConstraintCompiler.compile(grammar).start()
            #expect(state.advance(Array(try Tokenizer(gguf: file).decode(tokens).utf8)))
        }
    }
}

