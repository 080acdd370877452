import Kernels

extension LayerRangeModel {
    /// One transformer block on `rows` token rows of `x` (in place): pre-norm attention with the
    /// architecture's options, then the gated FFN.
    func runLayer(_ w: LayerWeights, style: LayerStyle, localIndex li: Int, x: UnsafeMutablePointer<Float>, rows: Int,
                  positions: [Int], caches: [KVCache], rotary: RotaryTables) {
        let h = hyperparameters
        let e = h.embeddingLength, qd = h.qDim, kvd = h.kvDim, hd = h.headDim, f = h.feedForwardLength
        let hn = scratch.buffer(.h, rows * e)
        let q = scratch.buffer(.q, rows * qd)
        let k = scratch.buffer(.k, rows * kvd)
        let v = scratch.buffer(.v, rows * kvd)
        let att = scratch.buffer(.att, rows * qd)
        let o = scratch.buffer(.o, rows * e)

        // Row-wise steps (norms, biases, rotations, cache stores, residual adds) run on the pool
        // in shares of rows: each row's values are those of the serial loop.
        normRows(w.attnNorm, x, into: hn, width: e, rows: rows)
        WeightMatrix.multiply([MatmulProduct(matrix: w.wq, y: q, yStride: qd), MatmulProduct(matrix: w.wk, y: k, yStride: kvd),
                               MatmulProduct(matrix: w.wv, y: v, yStride: kvd)], x: hn, batch: rows, pool: pool, scratch: scratch)
        let angles = rotary.table(layer: li), stride = rotary.rowFloats
        withPointers(w.bq, w.bk, w.bv) { bq, bk, bv in
            withPointers(w.qNorm, w.kNorm, nil) { qn, kn, _ in
                pool.forEachShare(of: rows) { r0, r1 in
                    if let bq, let bk, let bv {
                        for r in r0..<r1 {
                            VectorMath.add(bq, to: q + r * qd, count: qd)
                            VectorMath.add(bk, to: k + r * kvd, count: kvd)
                            VectorMath.add(bv, to: v + r * kvd, count: kvd)
                        }
                    }
                    if let qn, let kn {
                        VectorMath.rmsNorm(q + r0 * qd, stride: hd, weight: qn, into: q + r0 * qd, stride: hd,
                                           rows: (r1 - r0) * h.headCount, count: hd, epsilon: h.rmsEpsilon)
                        VectorMath.rmsNorm(k + r0 * kvd, stride: hd, weight: kn, into: k + r0 * kvd, stride: hd,
                                           rows: (r1 - r0) * h.kvHeadCount, count: hd, epsilon: h.rmsEpsilon)
                    }
                    for r in r0..<r1 {
                        RotaryTables.rotate(q + r * qd, heads: h.headCount, headDim: hd, rotated: h.ropeDimensions,
                                            angles: angles + r * stride, neox: h.ropeNeox)
                        RotaryTables.rotate(k + r * kvd, heads: h.kvHeadCount, headDim: hd, rotated: h.ropeDimensions,
                                            angles: angles + r * stride, neox: h.ropeNeox)
                        // Store K and V at their positions before anyone attends (every row sees the
                        // whole chunk's keys up to its own position, so prefill and decode compute
                        // each row identically).
                        let row = caches[r].rows(layer: li, position: positions[r])
                        row.key.update(from: k + r * kvd, count: kvd)
                        row.value.update(from: v + r * kvd, count: kvd)
                    }
                }
            }
        }
        let chunks = LayerRangeModel.attentionChunks(rows: rows, heads: h.headCount, kvHeads: h.kvHeadCount, threads: pool.count)
        var job = AttentionJob(q: q, out: att, rows: rows, positions: positions, caches: caches, layer: li,
                               window: style.slidingWindow, hp: h)
        withUnsafeMutablePointer(to: &job) { ptr in
            pool.run({ ctx, i, n in AttentionJob.body(ctx!.assumingMemoryBound(to: AttentionJob.self), Int(i), Int(n)) }, ptr,
                     chunks: chunks)
        }
        w.wo.multiply(att, batch: rows, into: o, yStride: e, pool: pool, scratch: scratch)
        addResidual(o, normedBy: w.postAttnNorm, to: x, width: e, rows: rows)

        // Feed-forward.
        let g = scratch.buffer(.gate, rows * f)
        let u = scratch.buffer(.up, rows * f)
        normRows(w.ffnNorm, x, into: hn, width: e, rows: rows)
        WeightMatrix.multiply([MatmulProduct(matrix: w.gate, y: g, yStride: f), MatmulProduct(matrix: w.up, y: u, yStride: f)],
                              x: hn, batch: rows, pool: pool, scratch: scratch)
        if pool.count == 1 || rows < 8 {
            GateJob.apply(h.activation, g, u, rows * f)
        } else {
            // Element-wise, so splitting the rows across threads changes no value.
            var job = GateJob(activation: h.activation, g: g, u: u, rows: rows, width: f)
            withUnsafeMutablePointer(to: &job) { ptr in
                pool.run({ ctx, i, n in GateJob.body(ctx!.assumingMemoryBound(to: GateJob.self), Int(i), Int(n)) }, ptr,
                         chunks: pool.count)
            }
        }
        w.down.multiply(g, batch: rows, into: o, yStride: e, pool: pool, scratch: scratch)
        addResidual(o, normedBy: w.postFfnNorm, to: x, width: e, rows: rows)
    }

    /// y = rmsNorm(x) · weight, row by row, on the pool.
    private func normRows(_ weight: [Float], _ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, width e: Int, rows: Int) {
        let eps = hyperparameters.rmsEpsilon
        weight.withUnsafeBufferPointer { w in
            pool.forEachShare(of: rows) { r0, r1 in
                VectorMath.rmsNorm(x + r0 * e, stride: e, weight: w.baseAddress!, into: y + r0 * e, stride: e, rows: r1 - r0,
                                   count: e, epsilon: eps)
            }
        }
    }

    /// x += o, o first normalized in place when the architecture has a post-norm; on the pool.
    private func addResidual(_ o: UnsafeMutablePointer<Float>, normedBy norm: [Float]?, to x: UnsafeMutablePointer<Float>,
                             width e: Int, rows: Int) {
        let eps = hyperparameters.rmsEpsilon
        withPointers(norm, nil, nil) { pn, _, _ in
            pool.forEachShare(of: rows) { r0, r1 in
                if let pn {
                    VectorMath.rmsNorm(o + r0 * e, stride: e, weight: pn, into: o + r0 * e, stride: e, rows: r1 - r0, count: e,
                                       epsilon: eps)
                }
                VectorMath.add(o + r0 * e, to: x + r0 * e, count: (r1 - r0) * e)
            }
        }
    }
}

/// Calls `body` with the base addresses of up to three optional vectors (nil for nil).
private func withPointers<R>(_ a: [Float]?, _ b: [Float]?, _ c: [Float]?,
                             _ body: (UnsafePointer<Float>?, UnsafePointer<Float>?, UnsafePointer<Float>?) -> R) -> R {
    func with(_ v: [Float]?, _ f: (UnsafePointer<Float>?) -> R) -> R {
        guard let v else { return f(nil) }
        return v.withUnsafeBufferPointer { f($0.baseAddress) }
    }
    return with(a) { pa in with(b) { pb in with(c) { pc in body(pa, pb, pc) } } }
}

/// The gated FFN's activation, g = act(g) * u, over a share of the token rows.
private struct GateJob {
    let activation: FeedForwardActivation
    let g: UnsafeMutablePointer<Float>
    let u: UnsafeMutablePointer<Float>
    let rows: Int
    let width: Int

    static func apply(_ activation: FeedForwardActivation, _ g: UnsafeMutablePointer<Float>,
                      _ u: UnsafePointer<Float>, _ count: Int) {
        switch activation {
        case .geluTanh: VectorMath.geluTanhGate(g, times: u, count: count)
        case .silu: VectorMath.siluGate(g, times: u, count: count)
        }
    }

    static func body(_ p: UnsafeMutablePointer<GateJob>, _ i: Int, _ n: Int) {
        let j = p.pointee
        let (r0, r1) = ThreadPool.share(j.rows, i, n)
        guard r0 < r1 else { return }
        apply(j.activation, j.g + r0 * j.width, j.u + r0 * j.width, (r1 - r0) * j.width)
    }
}

extension LayerRangeModel {
    /// Chunks of (token row × head) pairs for attention: a chunk holds at least the heads of one
    /// kv group that one thread's share allows (a group's heads read the same cached rows once
    /// between them; single heads re-read them: one Gemma decode row in four one-head chunks read
    /// every key and value four times), else up to 8 chunks per thread.
    static func attentionChunks(rows: Int, heads: Int, kvHeads: Int, threads: Int) -> Int {
        guard threads > 1 else { return 1 }
        let group = max(1, heads / max(1, kvHeads))
        let minItems = max(1, min(group, heads / threads))
        return max(1, min(rows * heads / minItems, 8 * threads))
    }
}

/// Attention over (token row × head) pairs, split into chunks that the pool's threads take.
private struct AttentionJob {
    let q: UnsafeMutablePointer<Float>
    let out: UnsafeMutablePointer<Float>
    let rows: Int
    let positions: [Int]
    let caches: [KVCache]
    let layer: Int
    let window: Int?
    let hp: Hyperparameters

    static func body(_ p: UnsafeMutablePointer<AttentionJob>, _ i: Int, _ n: Int) {
        let j = p.pointee
        let heads = j.hp.headCount, hd = j.hp.headDim
        // The pool hands chunks out in index order, and in a prompt later rows attend to more
        // keys: chunk i takes share n - 1 - i, so the heaviest go first and the last one taken
        // (the one the other threads may wait for) is the lightest.
        let (lo, hi) = ThreadPool.share(j.rows * heads, n - 1 - i, n)
        var pair = lo
        while pair < hi {
            let r = pair / heads
            let h0 = pair % heads
            let h1 = min(heads, h0 + (hi - pair))
            let pos = j.positions[r]
            let cache = j.caches[r]
            // Whole rows of the same sequence at the next positions go in one block, so each
            // K/V tile is read once for all of them (every query's result is the same either way).
            var n = 1
            if h0 == 0, h1 == heads {
                while n < Attention.maxQueries, pair + (n + 1) * heads <= hi,
                      j.caches[r + n] === cache, j.positions[r + n] == pos + n { n += 1 }
            }
            Attention.query(j.q + r * j.hp.qDim, qStride: j.hp.qDim, count: n, position: pos, window: j.window ?? 0,
                            keys: cache.keys[j.layer], values: cache.values[j.layer], kvStride: j.hp.kvDim,
                            ring: cache.capacities[j.layer], headCount: heads, kvHeadCount: j.hp.kvHeadCount, headDim: hd,
                            scale: j.hp.attentionScale, softcap: j.hp.attentionSoftcap, heads: h0..<h1,
                            into: j.out + r * j.hp.qDim, outStride: j.hp.qDim)
            pair += n * (h1 - h0)
        }
    }
}

/// Reusable work buffers of a layer range (grown on demand, never shrunk).
final class Scratch {
    enum Slot: Int, CaseIterable { case x, h, q, k, v, att, o, gate, up, activations }
    private var buffers: [UnsafeMutablePointer<Float>?] = Array(repeating: nil, count: Slot.allCases.count)
    private var sizes: [Int] = Array(repeating: 0, count: Slot.allCases.count)

    func buffer(_ slot: Slot, _ count: Int) -> UnsafeMutablePointer<Float> {
        let i = slot.rawValue
        if let b = buffers[i], sizes[i] >= count { return b }
        buffers[i]?.deallocate()
        let b = UnsafeMutablePointer<Float>.allocate(capacity: max(count, 16))
        buffers[i] = b
        sizes[i] = max(count, 16)
        return b
    }

    /// `count` bytes (64-byte aligned) in `slot`; 8-bit activations live here.
    func bytes(_ slot: Slot, _ count: Int) -> UnsafeMutableRawPointer {
        let floats = (count + 63) / 4 + 16
        let p = UnsafeMutableRawPointer(buffer(slot, floats))
        return UnsafeMutableRawPointer(bitPattern: (Int(bitPattern: p) + 63) & ~63)!
    }

    deinit { buffers.forEach { $0?.deallocate() } }
}
