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

        w.attnNorm.withUnsafeBufferPointer {
            VectorMath.rmsNorm(x, stride: e, weight: $0.baseAddress!, into: hn, stride: e, rows: rows, count: e, epsilon: h.rmsEpsilon)
        }
        WeightMatrix.multiply([MatmulProduct(matrix: w.wq, y: q, yStride: qd), MatmulProduct(matrix: w.wk, y: k, yStride: kvd),
                               MatmulProduct(matrix: w.wv, y: v, yStride: kvd)], x: hn, batch: rows, pool: pool, scratch: scratch)
        if let bq = w.bq, let bk = w.bk, let bv = w.bv {
            for r in 0..<rows {
                bq.withUnsafeBufferPointer { VectorMath.add($0.baseAddress!, to: q + r * qd, count: qd) }
                bk.withUnsafeBufferPointer { VectorMath.add($0.baseAddress!, to: k + r * kvd, count: kvd) }
                bv.withUnsafeBufferPointer { VectorMath.add($0.baseAddress!, to: v + r * kvd, count: kvd) }
            }
        }
        if let qn = w.qNorm, let kn = w.kNorm {
            qn.withUnsafeBufferPointer {
                VectorMath.rmsNorm(q, stride: hd, weight: $0.baseAddress!, into: q, stride: hd, rows: rows * h.headCount, count: hd,
                                   epsilon: h.rmsEpsilon)
            }
            kn.withUnsafeBufferPointer {
                VectorMath.rmsNorm(k, stride: hd, weight: $0.baseAddress!, into: k, stride: hd, rows: rows * h.kvHeadCount, count: hd,
                                   epsilon: h.rmsEpsilon)
            }
        }
        let angles = rotary.table(layer: li), stride = rotary.rowFloats
        for r in 0..<rows {
            RotaryTables.rotate(q + r * qd, heads: h.headCount, headDim: hd, rotated: h.ropeDimensions, angles: angles + r * stride,
                                neox: h.ropeNeox)
            RotaryTables.rotate(k + r * kvd, heads: h.kvHeadCount, headDim: hd, rotated: h.ropeDimensions, angles: angles + r * stride,
                                neox: h.ropeNeox)
        }
        // Store K and V at their positions, then attend (every row sees the whole chunk's keys
        // up to its own position, so prefill and decode compute each row identically).
        for r in 0..<rows {
            let row = caches[r].rows(layer: li, position: positions[r])
            row.key.update(from: k + r * kvd, count: kvd)
            row.value.update(from: v + r * kvd, count: kvd)
        }
        let chunks = LayerRangeModel.attentionChunks(rows: rows, heads: h.headCount, kvHeads: h.kvHeadCount, threads: pool.count)
        var job = AttentionJob(q: q, out: att, rows: rows, positions: positions, caches: caches, layer: li,
                               window: style.slidingWindow, hp: h)
        withUnsafeMutablePointer(to: &job) { ptr in
            pool.run({ ctx, i, n in AttentionJob.body(ctx!.assumingMemoryBound(to: AttentionJob.self), Int(i), Int(n)) }, ptr,
                     chunks: chunks)
        }
        w.wo.multiply(att, batch: rows, into: o, yStride: e, pool: pool, scratch: scratch)
        if let pn = w.postAttnNorm {
            pn.withUnsafeBufferPointer {
                VectorMath.rmsNorm(o, stride: e, weight: $0.baseAddress!, into: o, stride: e, rows: rows, count: e, epsilon: h.rmsEpsilon)
            }
        }
        VectorMath.add(o, to: x, count: rows * e)

        // Feed-forward.
        let g = scratch.buffer(.gate, rows * f)
        let u = scratch.buffer(.up, rows * f)
        w.ffnNorm.withUnsafeBufferPointer {
            VectorMath.rmsNorm(x, stride: e, weight: $0.baseAddress!, into: hn, stride: e, rows: rows, count: e, epsilon: h.rmsEpsilon)
        }
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
        if let pn = w.postFfnNorm {
            pn.withUnsafeBufferPointer {
                VectorMath.rmsNorm(o, stride: e, weight: $0.baseAddress!, into: o, stride: e, rows: rows, count: e, epsilon: h.rmsEpsilon)
            }
        }
        VectorMath.add(o, to: x, count: rows * e)
    }
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
        let (lo, hi) = ThreadPool.share(j.rows * heads, i, n)
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
