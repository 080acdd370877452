import Foundation
import GGUF
import Kernels
import ServingTypes
import Testing
@testable import ModelRuntime

/// The demo model's hidden state after every layer, for scripts/analysis/error_budget.py's
/// layer-by-layer comparison with float64: run only when PIPESERVE_DUMP_LAYERS names the JSON file
/// to write. The model runs as a chain of one-layer stages (the split the pipeline supports), and
/// the chain's logits must equal the one-stage model's bit for bit (DESIGN: results do not depend
/// on the split), which is what the test checks.
///
/// Written: {"q8"|"f32": {prompt name: {"layers": [[Float] × (layers − 1)], "logits": [[id, logit]]}}},
/// each layer's row the last prompt token's; logits at the 100 highest ids and at the fixtures' ids.
@Suite(.enabled(if: TestModels.realModelPath != nil && ProcessInfo.processInfo.environment["PIPESERVE_DUMP_LAYERS"] != nil,
                "set PIPESERVE_DUMP_LAYERS=FILE (and fetch the demo model) to dump per-layer hidden states"))
struct LayerTraceDump {
    @Test func chainOfOneLayerStagesDumpsEveryLayer() throws {
        let out = try #require(ProcessInfo.processInfo.environment["PIPESERVE_DUMP_LAYERS"])
        let path = try #require(TestModels.realModelPath)
        let f = try Float64Fixture.load()
        let file = try GGUFFile(path: path)
        let layers = try Hyperparameters(metadata: file.metadata, tensors: file.tensors).layerCount
        var doc: [String: [String: [String: [[Double]]]]] = [:]
        let saved = ActivationPrecision.current
        defer { ActivationPrecision.select(saved) }
        for mode in [ActivationPrecision.q8, .f32] {
            ActivationPrecision.select(mode)
            let whole = try LayerRangeModel(file: file, threads: 2, logger: testLogger)
            let stages = try (0..<layers).map { try LayerRangeModel(file: file, layers: $0..<($0 + 1), threads: 2, logger: testLogger) }
            var perPrompt: [String: [String: [[Double]]]] = [:]
            for (i, p) in f.prompts.enumerated() {
                let s = SequenceID(UInt64(i))
                let n = p.prompt_tokens.count
                let reference = try whole.forward([SequenceChunk(sequence: s, startPosition: 0, tokens: p.prompt_tokens)]).logits
                var hidden: [Float]? = nil
                var rows: [[Double]] = []
                var logits: [Float] = []
                for (l, stage) in stages.enumerated() {
                    let chunk = l == 0 ? SequenceChunk(sequence: s, startPosition: 0, tokens: p.prompt_tokens)
                                       : SequenceChunk(sequence: s, startPosition: 0, count: n)
                    let o = try stage.forward([chunk], hidden: hidden)
                    if stage.isLast { logits = o.logits; break }
                    hidden = o.hidden
                    let e = o.hidden.count / n
                    rows.append(o.hidden[(n - 1) * e..<(n * e)].map(Double.init))
                }
                #expect(logits == reference, "prompt \(p.name) (\(mode)): the chain of one-layer stages changed the logits")
                var ids = Set(logits.indices.sorted { logits[$0] > logits[$1] }.prefix(100))
                ids.formUnion(p.top20.map { Int($0[0]) })
                ids.formUnion(p.at_llamacpp_top10.map { Int($0[0]) })
                perPrompt[p.name] = ["layers": rows, "logits": ids.sorted().map { [Double($0), Double(logits[$0])] }]
            }
            doc[mode == .q8 ? "q8" : "f32"] = perPrompt
        }
        try JSONSerialization.data(withJSONObject: doc).write(to: URL(fileURLWithPath: out))
    }
}
