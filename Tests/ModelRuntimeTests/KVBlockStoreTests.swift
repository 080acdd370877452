import GGUF
import ServingTypes
import Testing
@testable import ModelRuntime

/// Prefix-cache blocks on a stage: a sequence started from copies of another's blocks computes
/// bit for bit what it computes from scratch — for sliding-window layers too, with prompts longer
/// than the window — and the store refuses what it cannot do without changing anything.
@Suite struct KVBlockStoreTests {
    /// Computes `tokens` for `sequence` in chunks of `chunk`, keeping block copies of `block`
    /// positions as each is completed (as the stages do after each entry); returns the last logits.
    func computeStoring(_ m: LayerRangeModel, _ s: SequenceID, _ tokens: [Int32], chunk: Int, block: Int,
                        names: (Int) -> UInt64) throws -> [Float] {
        var logits: [Float] = []
        var start = 0
        while start < tokens.count {
            let end = min(tokens.count, start + chunk)
            logits = try m.forward([SequenceChunk(sequence: s, startPosition: start, tokens: Array(tokens[start ..< end]))]).logits
            var i = start / block
            while (i + 1) * block <= end {
                try m.store(s, block: KVBlockRef(name: names(i), startPosition: i * block, count: block))
                i += 1
            }
            start = end
        }
        return logits
    }

    func prompt(_ n: Int, seed: Int32 = 3, vocabulary: Int) -> [Int32] {
        (0 ..< n).map { Int32((Int($0) * 7919 + Int(seed) * 104_729) % (vocabulary - 10) + 5) }
    }

    func check(_ m: LayerRangeModel, length: Int, shared: Int, block: Int, chunk: Int) throws {
        let v = m.hyperparameters.vocabularySize
        let a = prompt(length, vocabulary: v)
        var b = Array(a.prefix(shared))
        b += prompt(length - shared, seed: 11, vocabulary: v)
        // From scratch, in one chunk.
        let scratch = try m.forward([SequenceChunk(sequence: SequenceID(90), startPosition: 0, tokens: b)]).logits
        m.free(SequenceID(90))
        // Sequence 1 computes a and keeps its blocks; sequence 2 starts from the shared ones.
        _ = try computeStoring(m, SequenceID(1), a, chunk: chunk, block: block) { UInt64(1000 + $0) }
        let hit = (shared - 1) / block  // never the last position of b
        let refs = (0 ..< hit).map { KVBlockRef(name: UInt64(1000 + $0), startPosition: $0 * block, count: block) }
        try m.restore(SequenceID(2), from: refs)
        #expect(m.cachedLength(SequenceID(2)) == hit * block)
        let restored = try m.forward([SequenceChunk(sequence: SequenceID(2), startPosition: hit * block,
                                                    tokens: Array(b[(hit * block)...]))]).logits
        #expect(firstMismatch(scratch, restored, tol: 0) == nil, "\(hit) blocks of \(block) restored")
        // A decode after the restore matches too.
        let next: [Int32] = [42]
        let d1 = try m.forward([SequenceChunk(sequence: SequenceID(2), startPosition: b.count, tokens: next)]).logits
        let ref = try m.forward([SequenceChunk(sequence: SequenceID(91), startPosition: 0, tokens: b + next)]).logits
        #expect(firstMismatch(ref, d1, tol: 0) == nil)
        m.reset()
        #expect(m.blockCount == 0 && m.blockBytes == 0)
    }

    @Test(arguments: ["tiny-llama", "tiny-qwen2", "tiny-gemma3"])
    func aRestoredPrefixComputesWhatScratchComputes(preset: String) throws {
        let m = try TestModels.model(preset)
        // tiny-gemma3's sliding window is 8: blocks of 4 and 8, prompts far longer than the window.
        for (block, chunk) in [(4, 5), (8, 8), (8, 3), (1, 16)] {
            try check(m, length: 40, shared: 30, block: block, chunk: chunk)
            try check(m, length: 24, shared: 24, block: block, chunk: chunk)  // the whole prompt but its end
        }
    }

    @Test func theRealModelAcrossItsSlidingWindow() throws {
        guard let path = TestModels.realModelPath else { return }
        let m = try LayerRangeModel(file: try GGUFFile(path: path), logger: testLogger)
        // Gemma 3 270M: window 512; a 640-position prefix restored, chunks of 256.
        try check(m, length: 700, shared: 660, block: 64, chunk: 256)
    }

    @Test func aStageSplitRestoresItsOwnLayers() throws {
        let full = try TestModels.model("tiny-gemma3")
        let n = full.hyperparameters.layerCount
        let a = try TestModels.model("tiny-gemma3", layers: 0 ..< 2)
        let b = try TestModels.model("tiny-gemma3", layers: 2 ..< n)
        let tokens = prompt(30, vocabulary: full.hyperparameters.vocabularySize)
        let reference = try full.forward([SequenceChunk(sequence: SequenceID(1), startPosition: 0, tokens: tokens)]).logits
        // Sequence 5 computes the first 16 positions on both stages and stores 2 blocks of 8.
        let h = try a.forward([SequenceChunk(sequence: SequenceID(5), startPosition: 0, tokens: Array(tokens.prefix(16)))]).hidden
        _ = try b.forward([SequenceChunk(sequence: SequenceID(5), startPosition: 0, count: 16)], hidden: h)
        for stage in [a, b] {
            for i in 0 ..< 2 { try stage.store(SequenceID(5), block: KVBlockRef(name: UInt64(i + 1), startPosition: 8 * i, count: 8)) }
        }
        let refs = (0 ..< 2).map { KVBlockRef(name: UInt64($0 + 1), startPosition: 8 * $0, count: 8) }
        try a.restore(SequenceID(6), from: refs)
        try b.restore(SequenceID(6), from: refs)
        let h2 = try a.forward([SequenceChunk(sequence: SequenceID(6), startPosition: 16, tokens: Array(tokens[16...]))]).hidden
        let out = try b.forward([SequenceChunk(sequence: SequenceID(6), startPosition: 16, count: 14)], hidden: h2).logits
        #expect(firstMismatch(reference, out, tol: 0) == nil)
    }

    @Test func whatCannotBeDoneIsRefusedAndChangesNothing() throws {
        let m = try TestModels.model("tiny-gemma3")  // sliding window 8
        let tokens = prompt(24, vocabulary: m.hyperparameters.vocabularySize)
        _ = try m.forward([SequenceChunk(sequence: SequenceID(1), startPosition: 0, tokens: Array(tokens.prefix(8)))])
        try m.store(SequenceID(1), block: KVBlockRef(name: 1, startPosition: 0, count: 8))
        _ = try m.forward([SequenceChunk(sequence: SequenceID(1), startPosition: 8, tokens: Array(tokens[8 ..< 24]))])
        // Positions 0-7 have left the sliding layers' ring: a block of them cannot be stored now.
        #expect(throws: ModelRuntimeError.self) { try m.store(SequenceID(1), block: KVBlockRef(name: 2, startPosition: 0, count: 16)) }
        #expect(throws: ModelRuntimeError.self) { try m.store(SequenceID(77), block: KVBlockRef(name: 3, startPosition: 0, count: 8)) }
        #expect(m.blockCount == 1)
        // A missing block, a mismatched ref and a non-empty sequence are refused.
        #expect(m.missingBlocks([KVBlockRef(name: 1, startPosition: 0, count: 8), KVBlockRef(name: 9, startPosition: 8, count: 8)]) == [9])
        do {
            try m.restore(SequenceID(2), from: [KVBlockRef(name: 9, startPosition: 0, count: 8)])
            Issue.record("restored a missing block")
        } catch ModelRuntimeError.blockMissing(9) {} catch { Issue.record("\(error)") }
        #expect(throws: ModelRuntimeError.self) { try m.restore(SequenceID(2), from: [KVBlockRef(name: 1, startPosition: 0, count: 4)]) }
        #expect(throws: ModelRuntimeError.self) { try m.restore(SequenceID(1), from: [KVBlockRef(name: 1, startPosition: 0, count: 8)]) }
        #expect(m.cachedLength(SequenceID(2)) == 0 && m.sequenceCount == 1)
        m.dropBlocks([1, 12345])
        #expect(m.blockCount == 0 && m.blockBytes == 0)
    }
}
