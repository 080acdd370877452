import ServingTypes
import Testing
@testable import ModelRuntime

/// A token's logits must not depend on stage split, threads, batch composition or prefill chunking
/// (DESIGN.md, "Determinism"): these compare bit for bit.
@Suite struct DeterminismTests {
    let prompt: [Int32] = [1, 40, 41, 300, 7, 260, 261, 262, 263, 264, 265, 266, 267, 268, 269, 270]

    func allLogits(_ m: LayerRangeModel, _ s: SequenceID, _ tokens: [Int32]) throws -> [Float] {
        try m.forward([SequenceChunk(sequence: s, startPosition: 0, tokens: tokens, logits: .all)]).logits
    }

    @Test(arguments: ["tiny-llama", "tiny-qwen2", "tiny-gemma3"])
    func prefillEqualsTokenByTokenDecode(preset: String) throws {
        let m = try TestModels.model(preset)
        let whole = try allLogits(m, SequenceID(1), prompt)
        var stepwise: [Float] = []
        for (i, t) in prompt.enumerated() {
            stepwise += try m.forward([SequenceChunk(sequence: SequenceID(2), startPosition: i, tokens: [t])]).logits
        }
        #expect(firstMismatch(whole, stepwise, tol: 0) == nil)
        // Chunks of 5 as well.
        var chunked: [Float] = []
        for start in stride(from: 0, to: prompt.count, by: 5) {
            let part = Array(prompt[start..<min(prompt.count, start + 5)])
            chunked += try m.forward([SequenceChunk(sequence: SequenceID(3), startPosition: start, tokens: part, logits: .all)]).logits
        }
        #expect(firstMismatch(whole, chunked, tol: 0) == nil)
    }

    @Test(arguments: ["tiny-llama", "tiny-gemma3"])
    func layerSplitsMatchOneRange(preset: String) throws {
        let full = try TestModels.model(preset)
        let n = full.hyperparameters.layerCount
        let reference = try allLogits(full, SequenceID(1), prompt)
        for cut in [1, n / 2, n - 1] {
            let a = try TestModels.model(preset, layers: 0..<cut)
            let b = try TestModels.model(preset, layers: cut..<n)
            #expect(a.isFirst && !a.isLast && !b.isFirst && b.isLast)
            let chunk = SequenceChunk(sequence: SequenceID(1), startPosition: 0, tokens: prompt, logits: .all)
            let mid = try a.forward([chunk])
            #expect(mid.logits.isEmpty && mid.hidden.count == prompt.count * full.hyperparameters.embeddingLength)
            let out = try b.forward([chunk], hidden: mid.hidden)
            #expect(firstMismatch(reference, out.logits, tol: 0) == nil, "cut at \(cut)")
        }
    }

    @Test func batchCompositionAndThreadsDoNotChangeResults() throws {
        let one = try TestModels.model("tiny-gemma3", threads: 1)
        let three = try TestModels.model("tiny-gemma3", threads: 3)
        let a = Array(prompt[0..<9]), b = Array(prompt[3..<16])
        let alone = try allLogits(one, SequenceID(10), a)
        let together = try three.forward([
            SequenceChunk(sequence: SequenceID(20), startPosition: 0, tokens: b, logits: .all),
            SequenceChunk(sequence: SequenceID(21), startPosition: 0, tokens: a, logits: .all),
        ])
        let v = one.hyperparameters.vocabularySize
        let rowsOfA = Array(together.logits[(b.count * v)...])
        #expect(firstMismatch(alone, rowsOfA, tol: 0) == nil)
        #expect(together.logitRows.count == a.count + b.count)
    }

    @Test func freeForgetsTheSequence() throws {
        let m = try TestModels.model("tiny-llama")
        _ = try m.forward([SequenceChunk(sequence: SequenceID(5), startPosition: 0, tokens: [1, 2, 3])])
        #expect(m.cachedLength(SequenceID(5)) == 3)
        #expect(m.kvCacheBytes > 0)
        m.free(SequenceID(5))
        #expect(m.cachedLength(SequenceID(5)) == 0 && m.sequenceCount == 0 && m.kvCacheBytes == 0)
    }
}
