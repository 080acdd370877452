import CKernels
import Kernels
import Testing

/// Eight queries and the keys/values of positions [0, length), kvHeads × headDim floats per row.
private struct AttentionCase {
    let heads: Int, kvHeads: Int, hd: Int
    let q: [Float], k: [Float], v: [Float]
    var kvDim: Int { kvHeads * hd }

    init(heads: Int, kvHeads: Int, hd: Int, length: Int, growing: Bool = false, seed: UInt64) {
        var rng = SplitMix(seed: seed)
        self.heads = heads
        self.kvHeads = kvHeads
        self.hd = hd
        q = TestData.activations(count: 8 * heads * hd, rng: &rng)
        let kvDim = kvHeads * hd
        // growing: later keys are larger, so the running maximum keeps rising tile after tile.
        k = (0..<(length * kvDim)).map { i in
            Float.random(in: -1...1, using: &rng) * (growing ? 1 + Float(i / kvDim) / 64 : 1)
        }
        v = TestData.activations(count: length * kvDim, rng: &rng)
    }

    /// The kernel for query 0 over positions [lo, hi) (hi > lo), stored in a ring of `ring` rows
    /// (nil: a plain array).
    func kernel(_ lo: Int, _ hi: Int, ring: Int? = nil, heads h: Range<Int>? = nil, scale: Float, softcap: Float = 0) -> [Float] {
        block(pos: hi - 1, count: 1, window: lo > 0 ? hi - lo : 0, ring: ring, heads: h, scale: scale, softcap: softcap)
    }

    /// The kernel for queries 0..<count at positions pos..<pos + count in one call.
    func block(pos: Int, count: Int, window: Int, ring: Int? = nil, heads h: Range<Int>? = nil, scale: Float,
               softcap: Float = 0) -> [Float] {
        let hi = pos + count
        let cap = ring ?? hi
        var rk = [Float](repeating: .nan, count: cap * kvDim), rv = rk
        for p in max(0, hi - cap)..<hi {
            for i in 0..<kvDim {
                rk[(p % cap) * kvDim + i] = k[p * kvDim + i]
                rv[(p % cap) * kvDim + i] = v[p * kvDim + i]
            }
        }
        let hr = h ?? 0..<heads
        let qd = heads * hd
        var out = [Float](repeating: .nan, count: count * qd)
        ps_attention_query(q, Int64(qd), Int64(count), Int64(pos), Int64(window), rk, rv, Int64(kvDim), Int64(cap),
                           Int64(heads), Int64(kvHeads), Int64(hd), scale, softcap, Int64(hr.lowerBound), Int64(hr.upperBound),
                           &out, Int64(qd))
        return out
    }

    func reference(_ lo: Int, _ hi: Int, scale: Float, softcap: Float = 0) -> [Double] {
        ScalarReference.attention(query: Array(q[0..<(heads * hd)]), keyRow: { Array(k[($0 * kvDim)..<(($0 + 1) * kvDim)]) },
                                  valueRow: { Array(v[($0 * kvDim)..<(($0 + 1) * kvDim)]) },
                                  positions: lo..<hi, heads: heads, kvHeads: kvHeads, headDim: hd,
                                  scale: scale, softcap: softcap)
    }
}

/// Index of the first element further than `tol` from the reference, or nil.
private func firstMismatch(_ a: [Float], _ ref: [Double], tol: Double) -> Int? {
    if a.count != ref.count { return min(a.count, ref.count) }
    return zip(a, ref).enumerated().first { !(abs(Double($0.element.0) - $0.element.1) <= tol) }?.offset
}

extension KernelISASuites {
    @Suite struct AttentionTests {
        // (6, 1, 64) and (8, 2, 128): blocks of four heads of a kv group next to heads that are not in one.
        static let groupings = [(4, 1, 64), (8, 2, 32), (12, 4, 16), (3, 3, 20), (6, 1, 64), (8, 2, 128)]

        @Test("Tiled online-softmax attention matches the float64 two-pass reference on every ISA level")
        func matchesReference() {
            for (gi, (heads, kvHeads, hd)) in Self.groupings.enumerated() {
                for length in [1, 5, 127, 128, 129, 300, 1100] {
                    let c = AttentionCase(heads: heads, kvHeads: kvHeads, hd: hd, length: length, growing: length == 300,
                                          seed: UInt64(gi * 10_000 + length))
                    for (lo, softcap) in [(0, Float(0)), (length / 3, Float(0)), (0, Float(5))] {
                        let ref = c.reference(lo, length, scale: 0.6, softcap: softcap)
                        forEachISA { level in
                            let out = c.kernel(lo, length, scale: 0.6, softcap: softcap)
                            let bad = firstMismatch(out, ref, tol: 2e-5)
                            #expect(bad == nil, """
                                \(level) heads \(heads)/\(kvHeads) hd \(hd) keys [\(lo), \(length)) softcap \(softcap): \
                                first mismatch at \(bad ?? -1): \(bad.map { out[$0] } ?? 0) vs \(bad.map { ref[$0] } ?? 0)
                                """)
                        }
                    }
                }
            }
        }

        @Test("Every ISA level, head split and ring layout gives bitwise the same result")
        func bitwiseInvariant() {
            for (gi, (heads, kvHeads, hd)) in Self.groupings.enumerated() {
                let length = 700, lo = 700 - 300
                let c = AttentionCase(heads: heads, kvHeads: kvHeads, hd: hd, length: length, seed: UInt64(77 + gi))
                KernelISA.select(.portable)
                let portable = c.kernel(lo, length, scale: 0.4)
                KernelISA.select(KernelISA.detected)
                forEachISA { level in
                    let plain = c.kernel(lo, length, scale: 0.4)
                    #expect(firstBitwiseMismatch(plain, portable) == nil, "\(level) vs portable, heads \(heads)/\(kvHeads)")
                    // A ring that wraps mid-window (capacity 320 holds [380, 700)), and one just the window's size.
                    for ring in [320, 300, 333] {
                        let wrapped = c.kernel(lo, length, ring: ring, scale: 0.4)
                        #expect(firstBitwiseMismatch(wrapped, plain) == nil, "\(level) ring \(ring), heads \(heads)/\(kvHeads)")
                    }
                    // Heads computed a few at a time, as the thread pool splits them.
                    var split = [Float](repeating: .nan, count: heads * hd)
                    var h = 0
                    while h < heads {
                        let h1 = min(heads, h + 1 + h % 3)
                        let part = c.kernel(lo, length, heads: h..<h1, scale: 0.4)
                        split.replaceSubrange((h * hd)..<(h1 * hd), with: part[(h * hd)..<(h1 * hd)])
                        h = h1
                    }
                    #expect(firstBitwiseMismatch(split, plain) == nil, "\(level) head split, heads \(heads)/\(kvHeads)")
                }
            }
        }

        @Test("A block of consecutive queries gives bitwise each query's result alone, across tile boundaries")
        func queryBlocks() {
            for (gi, (heads, kvHeads, hd)) in Self.groupings.enumerated() {
                let c = AttentionCase(heads: heads, kvHeads: kvHeads, hd: hd, length: 400, seed: UInt64(300 + gi))
                let qd = heads * hd
                forEachISA { level in
                    for (pos, window, ring) in [(0, 0, nil), (120, 0, nil), (250, 0, 400), (300, 77, 100), (124, 130, 140)] as [(Int, Int, Int?)] {
                        let n = Int(PS_ATTENTION_QUERIES)
                        let all = c.block(pos: pos, count: n, window: window, ring: ring, scale: 0.5)
                        for i in 0..<n {
                            // Query i alone: the same kernel with its own q row at its own position.
                            var one = [Float](repeating: .nan, count: qd)
                            let cap = ring ?? (pos + n)
                            var rk = [Float](repeating: .nan, count: cap * c.kvDim), rv = rk
                            for p in max(0, pos + n - cap)..<(pos + n) {
                                for e in 0..<c.kvDim {
                                    rk[(p % cap) * c.kvDim + e] = c.k[p * c.kvDim + e]
                                    rv[(p % cap) * c.kvDim + e] = c.v[p * c.kvDim + e]
                                }
                            }
                            c.q.withUnsafeBufferPointer { qp in
                                ps_attention_query(qp.baseAddress! + i * qd, Int64(qd), 1, Int64(pos + i), Int64(window), rk, rv,
                                                   Int64(c.kvDim), Int64(cap), Int64(heads), Int64(kvHeads), Int64(hd), 0.5, 0,
                                                   0, Int64(heads), &one, Int64(qd))
                            }
                            let bad = firstBitwiseMismatch(one, Array(all[(i * qd)..<((i + 1) * qd)]))
                            #expect(bad == nil, "\(level) heads \(heads)/\(kvHeads) pos \(pos) window \(window): query \(i) differs at \(bad ?? -1)")
                        }
                    }
                }
            }
        }
    }
}
