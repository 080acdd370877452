import Kernels

/// One product of a group: `matrix` times the shared input into `y` (rows `yStride` apart).
struct MatmulProduct {
    let matrix: WeightMatrix
    let y: UnsafeMutablePointer<Float>
    let yStride: Int
}

extension WeightMatrix {
    /// Several matrices with the same input width times one input, as one parallel operation:
    /// y_p[b][r] = W_p[r] · x[b] for every product p, b < nb, r < W_p.rows. Output rows are split
    /// across the pool's threads in 16-row groups taken over all the products together (never one
    /// dot product across threads), so a layer's Q, K and V (or gate and up) cost one dispatch and
    /// one join instead of three (two): on two threads the small matrices of a 270M model were
    /// dominated by those. Where a weight type has an integer path and the thread's activation
    /// mode is q8, x is quantized to 8 bits once per activation layout, into the scratch's
    /// activation buffer, and every thread reads that copy. Each value is the one `multiply` of
    /// that matrix alone gives.
    static func multiply(_ products: [MatmulProduct], x: UnsafePointer<Float>, batch nb: Int, pool: ThreadPool, scratch: Scratch) {
        guard let cols = products.first?.matrix.cols else { return }
        assert(products.allSatisfy { $0.matrix.cols == cols }, "a group's products share their input width")
        // One quantized copy of x per weight type that takes 8-bit activations (the layouts differ:
        // 32-blocks carry the type's own offset correction; K types their block sums).
        var copies: [(format: WeightFormat, offset: Int)] = []
        var total = 0
        for p in products where ActivationPrecision.quantizes(p.matrix.format) && !copies.contains(where: { $0.format == p.matrix.format }) {
            copies.append((p.matrix.format, total))
            total += nb * (p.matrix.format.quantizedActivationRowBytes(cols) ?? 0)   // rows are multiples of 64 bytes
        }
        let buffer = total > 0 ? scratch.bytes(.activations, total) : nil
        for c in copies { quantize(format: c.format, x: x, cols: cols, nb: nb, out: buffer! + c.offset, pool: pool) }
        let parts = products.map { p -> MatmulJob.Part in
            let xq = copies.first { $0.format == p.matrix.format }.map { UnsafeRawPointer(buffer! + $0.offset) }
            return MatmulJob.Part(w: p.matrix, xq: xq, y: p.y, yStride: p.yStride)
        }
        parts.withUnsafeBufferPointer { pb in
            var job = MatmulJob(parts: pb, x: x, nb: nb, groups: parts.reduce(0) { $0 + ($1.w.rows + 15) / 16 })
            withUnsafeMutablePointer(to: &job) { ptr in
                // A single row (decode) streams each weight once: two chunks per thread keep each
                // thread's reads long and sequential (Gemma tg128 on two threads, 12 alternating
                // runs: paired 1.031 over eight chunks per thread, 8 of 12 faster; one chunk per
                // thread 1.067 in another series, but no slack for a descheduled thread).
                let chunks = pool.count == 1 ? 1 : pool.chunkCount(items: ptr.pointee.groups, minItems: 4, perThread: nb == 1 ? 2 : 8)
                pool.run({ ctx, i, n in MatmulJob.body(ctx!.assumingMemoryBound(to: MatmulJob.self), Int(i), Int(n)) }, ptr,
                         chunks: chunks)
            }
        }
    }

    private static func quantize(format: WeightFormat, x: UnsafePointer<Float>, cols: Int, nb: Int, out: UnsafeMutableRawPointer,
                                 pool: ThreadPool) {
        if pool.count == 1 || nb < 8 {
            QuantizedMatmul.quantizeActivationsUnchecked(format: format, x: x, xStride: cols, batch: nb, k: cols, into: out)
            return
        }
        // Row by row, so splitting the rows across threads gives the same bytes.
        var job = QuantizeJob(format: format, x: x, cols: cols, nb: nb, out: out,
                              rowBytes: format.quantizedActivationRowBytes(cols) ?? 0)
        withUnsafeMutablePointer(to: &job) { ptr in
            pool.run({ ctx, i, n in QuantizeJob.body(ctx!.assumingMemoryBound(to: QuantizeJob.self), Int(i), Int(n)) },
                     ptr, chunks: pool.count)
        }
    }
}

private struct QuantizeJob {
    let format: WeightFormat
    let x: UnsafePointer<Float>
    let cols: Int
    let nb: Int
    let out: UnsafeMutableRawPointer
    let rowBytes: Int

    static func body(_ p: UnsafeMutablePointer<QuantizeJob>, _ i: Int, _ n: Int) {
        let j = p.pointee
        let (b0, b1) = ThreadPool.share(j.nb, i, n)
        guard b0 < b1 else { return }
        QuantizedMatmul.quantizeActivationsUnchecked(format: j.format, x: j.x + b0 * j.cols, xStride: j.cols, batch: b1 - b0, k: j.cols,
                                                     into: j.out + b0 * j.rowBytes)
    }
}

private struct MatmulJob {
    struct Part {
        let w: WeightMatrix
        let xq: UnsafeRawPointer?   // 8-bit activations, or nil for the f32 path
        let y: UnsafeMutablePointer<Float>
        let yStride: Int
    }

    let parts: UnsafeBufferPointer<Part>
    let x: UnsafePointer<Float>
    let nb: Int
    /// 16-row groups of all parts, part after part.
    let groups: Int

    static func body(_ p: UnsafeMutablePointer<MatmulJob>, _ i: Int, _ n: Int) {
        let j = p.pointee
        let (g0, g1) = ThreadPool.share(j.groups, i, n)
        var first = 0   // the part's first group in the concatenation
        for part in j.parts {
            let count = (part.w.rows + 15) / 16
            let a = max(g0, first), b = min(g1, first + count)
            if a < b { run(part, x: j.x, nb: j.nb, rows: (a - first) * 16, min(part.w.rows, (b - first) * 16)) }
            first += count
            if first >= g1 { break }
        }
    }

    /// Rows [r0, r1) of one part (r0 on a 16-row boundary, so each chunk's rows stay cache-line
    /// aligned in y and packed groups stay whole).
    private static func run(_ part: Part, x: UnsafePointer<Float>, nb: Int, rows r0: Int, _ r1: Int) {
        let w = part.w
        // Packed rows where they are faster: for one activation row they skip the unpacking and
        // scale spreading of the row-major tiles; for a batch, the packed kernel unpacks each
        // 16-row group once (bytes, f32 scales) and runs every activation row over it, which
        // leaves only the contract's vpdpbusd, conversion and fma per 16 lanes (Q5_0 1.6-1.7x
        // the row-major tiles; `PackedWeights.preferred(batch:)`).
        if let xq = part.xq, let packed = w.packed, packed.preferred(batch: nb) {
            packed.multiplyQuantizedUnchecked(xq: xq, batch: nb, y: part.y, yStride: part.yStride, rows: r0..<r1)
        } else if let xq = part.xq {
            QuantizedMatmul.multiplyQuantizedUnchecked(format: w.format, weights: w.base, rowBytes: w.rowBytes, k: w.cols, xq: xq,
                                                       batch: nb, y: part.y, yStride: part.yStride, rows: r0..<r1)
        } else {
            QuantizedMatmul.multiplyUnchecked(format: w.format, weights: w.base, rowBytes: w.rowBytes, k: w.cols, x: x, xStride: w.cols,
                                              batch: nb, y: part.y, yStride: part.yStride, rows: r0..<r1)
        }
    }
}
