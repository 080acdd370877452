import Foundation
import GGUF
import Logging
import SyntheticModels
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
