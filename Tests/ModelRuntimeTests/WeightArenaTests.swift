import CKernels
import GGUF
import Kernels
import Testing
@testable import ModelRuntime

/// Models whose matrices were moved to the huge-page arena (and Q5_0 ones packed for decode) give
/// the same logits, bit for bit, as the mapped GGUF rows: prefill, batches and single-token decode,
/// on synthetic models of both types and on the real Gemma file.
@Suite struct WeightArenaTests {
    let prompt: [Int32] = [1, 40, 41, 300, 7, 260, 261, 262, 263, 264, 265, 266, 267, 268, 269, 270]

    /// Prefill of the prompt (all logits), then four decode steps.
    func run(_ m: LayerRangeModel) throws -> [Float] {
        let s = SequenceID(1)
        var out = try m.forward([SequenceChunk(sequence: s, startPosition: 0, tokens: prompt, logits: .all)]).logits
        for i in 0..<4 {
            out += try m.forward([SequenceChunk(sequence: s, startPosition: prompt.count + i, tokens: [prompt[i]])]).logits
        }
        m.free(s)
        return out
    }

    func bothWays(_ load: () throws -> LayerRangeModel) throws -> (packed: LayerRangeModel, plain: LayerRangeModel) {
        defer { PackedWeights.allowOnThisThread(true) }
        let packed = try load()
        PackedWeights.allowOnThisThread(false)
        return (packed, try load())
    }

    @Test(arguments: [GGMLType.q8_0, GGMLType.q5_0])
    func syntheticModelsAgree(type: GGMLType) throws {
        let (packed, plain) = try bothWays { try TestModels.model("tiny-llama", threads: 2, weightType: type) }
        let preferred = PackedWeights.preferred(WeightFormat(rawValue: Int32(type.rawValue))!)
        #expect(packed.layers[0].wq.packed != nil || !preferred, "this CPU packs \(type), the model did not")
        #expect(packed.layers[0].wq.arena != nil && packed.head?.arena != nil, "the weights stayed in the mapping")
        #expect(plain.layers[0].wq.packed == nil && plain.layers[0].wq.arena == nil)
        let mismatch = firstMismatch(try run(plain), try run(packed), tol: 0)
        #expect(mismatch == nil, "\(type): \(mismatch ?? "")")
    }

    /// Within a packed model, decode (one row: the packed kernel) and prefill (a batch: the mapped
    /// rows) still give each position the same logits (DESIGN.md, "Determinism").
    @Test func packedDecodeEqualsPrefill() throws {
        let m = try TestModels.model("tiny-llama", weightType: .q8_0)
        let whole = try m.forward([SequenceChunk(sequence: SequenceID(1), startPosition: 0, tokens: prompt, logits: .all)]).logits
        var stepwise: [Float] = []
        for (i, t) in prompt.enumerated() {
            stepwise += try m.forward([SequenceChunk(sequence: SequenceID(2), startPosition: i, tokens: [t])]).logits
        }
        let mismatch = firstMismatch(whole, stepwise, tol: 0)
        #expect(mismatch == nil, "\(mismatch ?? "")")
    }

    /// The arena is skipped when it would take over half the available memory.
    @Test func theArenaYieldsToLowMemory() {
        #expect(WeightArena.fits(bytes: 100, available: 200))
        #expect(!WeightArena.fits(bytes: 101, available: 200))
        #expect(WeightArena.fits(bytes: 1 << 40, available: nil))
        #expect((WeightArena.memoryAvailable() ?? 1) > 0)
    }

    @Test func realGemmaAgrees() throws {
        guard let path = TestModels.realModelPath else { return }
        let file = try GGUFFile(path: path)
        let (packed, plain) = try bothWays { try LayerRangeModel(file: file, threads: 2, logger: testLogger) }
        #expect(packed.head?.arena != nil && packed.layers.allSatisfy { $0.wq.arena != nil })
        #expect(packed.layers.contains { $0.wq.packed != nil || $0.gate.packed != nil } || !PackedWeights.preferred(.q5_0))
        let mismatch = firstMismatch(try run(plain), try run(packed), tol: 0)
        #expect(mismatch == nil, "\(mismatch ?? "")")
    }
}
