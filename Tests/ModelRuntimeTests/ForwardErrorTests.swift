import ServingTypes
import Testing
import GGUF
@testable import ModelRuntime
import SyntheticModels

/// Bad batches and bad models are rejected with errors that name the problem, and a rejected
/// batch leaves every cache as it was.
@Suite struct ForwardErrorTests {
    @Test func badBatchesAreRejectedWithoutSideEffects() throws {
        let m = try TestModels.model("tiny-llama")
        _ = try m.forward([SequenceChunk(sequence: SequenceID(1), startPosition: 0, tokens: [1, 2])])
        let bad: [[SequenceChunk]] = [
            [],
            [SequenceChunk(sequence: SequenceID(1), startPosition: 5, tokens: [3])],  // gap
            [SequenceChunk(sequence: SequenceID(2), startPosition: 0, tokens: [9999])],  // token out of range
            [SequenceChunk(sequence: SequenceID(2), startPosition: 0, tokens: [-1])],
            [SequenceChunk(sequence: SequenceID(2), startPosition: 250, tokens: Array(repeating: 1, count: 10))],
            [SequenceChunk(sequence: SequenceID(3), startPosition: 0, tokens: [1]),
             SequenceChunk(sequence: SequenceID(3), startPosition: 0, tokens: [1])],  // duplicate
            [SequenceChunk(sequence: SequenceID(4), startPosition: 0, count: 2)],  // no tokens on first stage
        ]
        for batch in bad {
            #expect(throws: ModelRuntimeError.self) { try m.forward(batch) }
        }
        #expect(m.cachedLength(SequenceID(1)) == 2)
        #expect(m.sequenceCount == 1)
        let ctx = m.hyperparameters.contextLength
        #expect(throws: ModelRuntimeError.self) {
            try m.forward([SequenceChunk(sequence: SequenceID(9), startPosition: 0, tokens: Array(repeating: 1, count: ctx + 1))])
        }
    }

    @Test func laterStageNeedsMatchingHiddenStates() throws {
        let m = try TestModels.model("tiny-llama", layers: 2..<4)
        #expect(throws: ModelRuntimeError.self) { try m.forward([SequenceChunk(sequence: SequenceID(1), startPosition: 0, count: 2)]) }
        #expect(throws: ModelRuntimeError.self) {
            try m.forward([SequenceChunk(sequence: SequenceID(1), startPosition: 0, count: 2)], hidden: [1, 2, 3])
        }
    }

    @Test func invalidLayerRanges() throws {
        for r in [0..<0, 0..<5, 3..<9] {
            #expect(throws: ModelRuntimeError.self) { try TestModels.model("tiny-llama", layers: r) }
        }
    }

    func modelError(_ edit: (inout GGUFWriter) -> Void) throws -> String {
        var w = SyntheticModel.writer(SyntheticModelSpec.preset("tiny-llama")!)
        edit(&w)
        let path = try TestModels.path("tiny-llama") + ".edited\(UInt32.random(in: 0...UInt32.max)).gguf"
        try w.write(to: path)
        do {
            _ = try LayerRangeModel(file: try GGUFFile(path: path), logger: testLogger)
            return "no error"
        } catch { return "\(error)" }
    }

    @Test func unsupportedArchitectureListsTheSupportedOnes() throws {
        let msg = try modelError { $0.set("general.architecture", .string("mamba")) }
        #expect(msg.contains("mamba") && msg.contains("gemma3, llama, qwen2"), "\(msg)")
    }

    @Test func missingHyperparameterNamesTheKey() throws {
        let msg = try modelError { w in w.metadata.removeAll { $0.0 == "llama.block_count" } }
        #expect(msg.contains("llama.block_count"), "\(msg)")
        let msg2 = try modelError { $0.set("llama.attention.head_count_kv", .uint32(3)) }
        #expect(msg2.contains("head_count_kv"), "\(msg2)")
    }

    /// Found by ModelFuzzTests: a negative rope dimension count (or block count) trapped while the
    /// per-layer RoPE tables were built, before the hyperparameters were validated.
    @Test func negativeRopeDimensionsOrBlockCountAreErrorsNotTraps() throws {
        let rope = try modelError { $0.set("llama.rope.dimension_count", .int32(-1)) }
        #expect(rope.contains("rope.dimension_count"), "\(rope)")
        let blocks = try modelError { $0.set("llama.block_count", .int64(-3)) }
        #expect(blocks.contains("block_count"), "\(blocks)")
        let huge = try modelError { $0.set("llama.block_count", .uint64(1 << 40)) }
        #expect(huge.contains("block_count"), "\(huge)")
    }

    @Test func missingOrMisshapenTensorIsNamed() throws {
        let msg = try modelError { w in w.tensors.removeAll { $0.name == "blk.2.ffn_up.weight" } }
        #expect(msg.contains("blk.2.ffn_up.weight"), "\(msg)")
        let msg2 = try modelError { w in
            let i = w.tensors.firstIndex { $0.name == "blk.0.attn_q.weight" }!
            w.tensors[i].dims = [32, 128]
        }
        #expect(msg2.contains("blk.0.attn_q.weight"), "\(msg2)")
    }

    @Test func unsupportedTensorTypeIsNamed() throws {
        let msg = try modelError { w in
            let i = w.tensors.firstIndex { $0.name == "blk.1.attn_k.weight" }!
            // Q2_K with a plausible byte count for a 64 × 32 matrix is 256-element blocks: use a row of 256.
            w.tensors[i] = GGUFWriter.Tensor(name: "blk.1.attn_k.weight", dims: [64, 32], type: GGMLType(rawValue: 3)!,
                                             data: [UInt8](repeating: 0, count: 64 * 32 / 32 * 20))
        }
        #expect(msg.contains("blk.1.attn_k.weight") && msg.contains("Q4_1"), "\(msg)")
    }
}
