import ServingTypes
import Testing
@testable import ModelRuntime

/// The sliding-window ring of KVCache: exactly the positions attention reads stay readable, and
/// memory per sequence is bounded by the window in sliding layers.
@Suite struct KVCacheTests {
    /// Writes `count` positions from `start` (key = position, value = -position in every float)
    /// and checks that each layer still reads back every position its queries need.
    func writeChunk(_ c: KVCache, start: Int, count: Int) {
        #expect(c.canStart(at: start))
        c.prepare(start: start, count: count)
        for l in 0..<c.layerCount {
            for p in start..<(start + count) {
                let r = c.rows(layer: l, position: p)
                for i in 0..<c.kvDim { r.key[i] = Float(p); r.value[i] = -Float(p) }
            }
        }
        for l in 0..<c.layerCount {
            let first = c.windows[l].map { max(0, start - $0 + 1) } ?? 0
            for p in first..<(start + count) {
                let r = c.rows(layer: l, position: p)
                let ok = (0..<c.kvDim).allSatisfy { r.key[$0] == Float(p) && r.value[$0] == -Float(p) }
                #expect(ok, "layer \(l) lost position \(p) after chunk [\(start), \(start + count))")
            }
        }
    }

    @Test func decodePastTheWindowKeepsTheWindow() {
        let c = KVCache(kvDim: 3, windows: [4, nil, 6], initialCapacity: 2)
        for p in 0..<40 { writeChunk(c, start: p, count: 1) }
        #expect(c.capacities[0] == 4 && c.capacities[2] == 6 && c.capacities[1] >= 40)
        #expect(c.bytes == 2 * (4 + 6 + c.capacities[1]) * 3 * 4)
    }

    @Test func chunksLargerThanTheWindow() {
        let c = KVCache(kvDim: 2, windows: [4, nil], initialCapacity: 2)
        writeChunk(c, start: 0, count: 10)  // first chunk, larger than the window
        writeChunk(c, start: 10, count: 3)
        writeChunk(c, start: 13, count: 9)  // the ring must hold 3 earlier rows plus 9 new ones
        #expect(c.capacities[0] <= 4 + 9 - 1)
        writeChunk(c, start: 22, count: 1)  // a decode step shrinks the ring back to the window
        #expect(c.capacities[0] == 4)
        writeChunk(c, start: 23, count: 7)
        writeChunk(c, start: 30, count: 1)
        #expect(c.length == 31 && c.capacities[0] == 4)
    }

    @Test func rewindWithinAndPastTheRing() {
        let c = KVCache(kvDim: 1, windows: [4, nil])
        for p in 0..<20 { writeChunk(c, start: p, count: 1) }
        // The ring holds [16, 20): restarting at 19 reads [16, 19); at 18 it would need 15.
        #expect(c.canStart(at: 19) && c.canStart(at: 20) && !c.canStart(at: 18) && !c.canStart(at: 21))
        writeChunk(c, start: 19, count: 2)
        #expect(c.length == 21)
    }

    /// Sliding layers of a long sequence hold W rows; global layers hold the sequence.
    @Test func modelMemoryIsBoundedByTheWindow() throws {
        let m = try TestModels.model("tiny-gemma3")
        let h = m.hyperparameters
        let w = try #require(h.layers.compactMap(\.slidingWindow).first)
        let sliding = h.layers.filter { $0.slidingWindow != nil }.count
        let global = h.layerCount - sliding
        #expect(sliding > 0 && global > 0)
        let s = SequenceID(1)
        let tokens = (0..<(4 * w)).map { Int32(3 + $0 * 7 % 250) }
        for (p, t) in tokens.enumerated() { _ = try m.forward([SequenceChunk(sequence: s, startPosition: p, tokens: [t])]) }
        let rowBytes = 2 * h.kvDim * MemoryLayout<Float>.size
        // Global layers grow by doubling from 64 rows.
        #expect(m.kvCacheBytes == rowBytes * (sliding * w + global * 64))
        // A prefill chunk larger than the window holds its own rows too, until the next decode.
        let p2 = SequenceID(2)
        _ = try m.forward([SequenceChunk(sequence: p2, startPosition: 0, tokens: tokens)])
        #expect(m.kvCacheBytes == rowBytes * (sliding * w + global * 64) + rowBytes * (sliding * 4 * w + global * 64))
        _ = try m.forward([SequenceChunk(sequence: p2, startPosition: 4 * w, tokens: [5])])
        #expect(m.kvCacheBytes == 2 * rowBytes * (sliding * w + global * 64))
    }

    /// Prefill in one chunk, in chunks larger and smaller than the window, and token by token
    /// give bitwise the same logits over a sequence several windows long; a freed sequence id
    /// starts over cleanly.
    @Test(arguments: ["tiny-gemma3", "tiny-llama"])
    func longSequenceChunkingAndReuse(preset: String) throws {
        let m = try TestModels.model(preset)
        let w = m.hyperparameters.layers.compactMap(\.slidingWindow).first ?? 8
        let tokens = (0..<(5 * w + 3)).map { Int32(3 + ($0 * 37) % 250) }
        let whole = try m.forward([SequenceChunk(sequence: SequenceID(1), startPosition: 0, tokens: tokens, logits: .all)]).logits
        for size in [1, 3, w, w + 3, 2 * w + 1] {
            let s = SequenceID(UInt64(100 + size))
            var got: [Float] = []
            for start in stride(from: 0, to: tokens.count, by: size) {
                let part = Array(tokens[start..<min(tokens.count, start + size)])
                got += try m.forward([SequenceChunk(sequence: s, startPosition: start, tokens: part, logits: .all)]).logits
            }
            #expect(firstMismatch(whole, got, tol: 0) == nil, "\(preset): chunks of \(size)")
            m.free(s)
        }
        m.free(SequenceID(1))
        #expect(m.kvCacheBytes == 0)
        let again = try m.forward([SequenceChunk(sequence: SequenceID(1), startPosition: 0, tokens: tokens, logits: .all)]).logits
        #expect(firstMismatch(whole, again, tol: 0) == nil, "\(preset): reused sequence id")
    }

    @Test func rewindPastTheWindowIsRejected() throws {
        let m = try TestModels.model("tiny-gemma3")
        let w = try #require(m.hyperparameters.layers.compactMap(\.slidingWindow).first)
        let s = SequenceID(3)
        for p in 0..<(3 * w) { _ = try m.forward([SequenceChunk(sequence: s, startPosition: p, tokens: [Int32(10 + p)])]) }
        #expect(throws: ModelRuntimeError.self) {
            try m.forward([SequenceChunk(sequence: s, startPosition: w, tokens: [7])])
        }
        #expect(m.cachedLength(s) == 3 * w)
        _ = try m.forward([SequenceChunk(sequence: s, startPosition: 3 * w - 1, tokens: [7])])
        #expect(m.cachedLength(s) == 3 * w)
    }
}
