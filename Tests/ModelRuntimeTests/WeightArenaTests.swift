import GGUF
import Kernels
import ServingTypes
import Testing
@testable import ModelRuntime

/// Models whose matrices were moved to the huge-page arena (and Q5_0/Q8_0/Q4_K ones packed for decode) give
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
        let packed = try load()
        return (packed, try plain(load))
    }

    /// Loaded with its matrices left in the mapping (no arena, nothing packed).
    func plain(_ load: () throws -> LayerRangeModel) throws -> LayerRangeModel {
        PackedWeights.allowOnThisThread(false)
        defer { PackedWeights.allowOnThisThread(true) }
        return try load()
    }

    @Test(arguments: [GGMLType.q8_0, GGMLType.q5_0])
    func syntheticModelsAgree(type: GGMLType) throws {
        let (packed, plain) = try bothWays { try TestModels.model("tiny-llama", threads: 2, weightType: type) }
        let preferred = PackedWeights.preferred(WeightFormat(rawValue: Int32(type.rawValue))!, k: packed.layers[0].wq.cols)
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

    /// Memory for the copies but not for the packed ones: the copies alone (same logits); for
    /// neither: the mapping.
    @Test func packingYieldsToLowMemoryFirst() throws {
        let file = try GGUFFile(path: try TestModels.path("tiny-llama", weightType: .q8_0))
        let plain = try plain { try LayerRangeModel(file: file, threads: 1, logger: testLogger) }
        let packed = WeightArena.layout(layers: plain.layers, head: plain.head, pack: true)
        let unpacked = WeightArena.layout(layers: plain.layers, head: plain.head, pack: false)
        #expect(unpacked.slots.allSatisfy { $0.packAt == nil })
        let matrices = plain.layers.flatMap { l in LayerWeights.matrices.map { l[keyPath: $0] } } + (plain.head.map { [$0] } ?? [])
        #expect(unpacked.bytes == matrices.reduce(0) { $0 + ($1.rows * $1.rowBytes + 63) / 64 * 64 })
        if PackedWeights.preferred(.q8_0, k: plain.layers[0].wq.cols) {
            #expect(packed.bytes > unpacked.bytes && packed.slots.contains { $0.packAt != nil })
        }
        var layers = plain.layers, head = plain.head
        let bytes = WeightArena.place(layers: &layers, head: &head, file: file, logger: testLogger,
                                      available: 2 * unpacked.bytes + 1)
        #expect(bytes == unpacked.bytes)
        #expect(layers.allSatisfy { $0.wq.arena != nil && $0.wq.packed == nil } && head?.packed == nil)
        var layers2 = plain.layers, head2 = plain.head
        #expect(WeightArena.place(layers: &layers2, head: &head2, file: file, logger: testLogger,
                                  available: 2 * unpacked.bytes - 2) == 0)
        #expect(layers2.allSatisfy { $0.wq.arena == nil })
    }

    /// What a decode step reads comes first, in the order it reads it, back to back; the
    /// row-major copies of packed matrices after it; nothing overlaps.
    @Test(arguments: [GGMLType.q8_0, GGMLType.q5_0])
    func decodeReadsOneRange(type: GGMLType) throws {
        let file = try GGUFFile(path: try TestModels.path("tiny-llama", weightType: type))
        let plain = try plain { try LayerRangeModel(file: file, threads: 1, logger: testLogger) }
        let (slots, bytes) = WeightArena.layout(layers: plain.layers, head: plain.head, pack: true)
        let matrices = plain.layers.flatMap { l in LayerWeights.matrices.map { l[keyPath: $0] } } + (plain.head.map { [$0] } ?? [])
        #expect(slots.count == matrices.count)
        var end = 0
        for (slot, m) in zip(slots, matrices) {
            let size: Int
            if let at = slot.packAt {
                size = PackedWeights.byteCount(format: m.format, k: m.cols, rows: m.rows)!
                #expect(at == end)
            } else {
                size = m.rows * m.rowBytes
                #expect(slot.copyAt == end)
            }
            end += (size + 63) / 64 * 64
        }
        for (slot, m) in zip(slots, matrices) where slot.packAt != nil {
            #expect(slot.copyAt == end)
            end += (m.rows * m.rowBytes + 63) / 64 * 64
        }
        #expect(end == bytes)
        #expect(slots.contains { $0.packAt != nil } == PackedWeights.preferred(WeightFormat(rawValue: Int32(type.rawValue))!,
                                                                               k: plain.layers[0].wq.cols))
    }

    @Test(.enabled(if: TestModels.realModelPath != nil, "demo model not fetched: run scripts/fetch-model or scripts/test"))
    func realGemmaAgrees() throws {
        let path = try #require(TestModels.realModelPath)
        let file = try GGUFFile(path: path)
        let (packed, plain) = try bothWays { try LayerRangeModel(file: file, threads: 2, logger: testLogger) }
        #expect(packed.head?.arena != nil && packed.layers.allSatisfy { $0.wq.arena != nil })
        #expect(packed.layers.contains { $0.wq.packed != nil || $0.gate.packed != nil } || !PackedWeights.preferred(.q5_0, k: 640))
        #expect(packed.head?.packed != nil || !PackedWeights.preferred(.q8_0, k: 640), "the Q8_0 head was not packed")
        let mismatch = firstMismatch(try run(plain), try run(packed), tol: 0)
        #expect(mismatch == nil, "\(mismatch ?? "")")
    }
}
