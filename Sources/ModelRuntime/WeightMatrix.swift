import CKernels
import GGUF
import Kernels

/// A weight matrix of the GGUF file: `rows` rows of `cols` elements, quantized rows of `rowBytes`
/// bytes, read in place from the mapping or from the huge-page arena `WeightArena` moved them to.
struct WeightMatrix: @unchecked Sendable {
    // Sendable: points into a read-only mapping owned by a GGUFFile the model keeps alive.
    let name: String
    let type: Int32
    /// Row 0 of the weights: in the mapped file, or in `arena` once `WeightArena` moved them.
    var base: UnsafeRawPointer
    /// Keeps the arena alive while `base` points into it.
    var arena: PackedArena?
    let rows: Int
    let cols: Int
    let rowBytes: Int
    /// The rows interleaved for the 8-bit-activation kernels (Q5_0 on AVX-512 VNNI), used by
    /// `multiply` for single-row products (decode) when present (`WeightArena`); batches, the f32
    /// path and row lookups read the rows at `base`.
    var packed: PackedWeights?

    init(file: GGUFFile, name: String, cols: Int, rows: Int? = nil) throws {
        guard let info = file.tensorInfo(name) else { throw ModelRuntimeError.missingTensor(name) }
        guard ps_type_supported(Int32(info.type.rawValue)) != 0 else {
            throw ModelRuntimeError.unsupportedTensorType(tensor: name, type: info.type.name)
        }
        guard info.dims.count == 2, info.dims[0] == cols, rows == nil || info.dims[1] == rows else {
            throw ModelRuntimeError.tensorShape(tensor: name, expected: [cols, rows ?? -1], found: info.dims)
        }
        self.name = name
        self.type = Int32(info.type.rawValue)
        self.base = file.tensorData(info).baseAddress!
        self.rows = info.dims[1]
        self.cols = cols
        self.rowBytes = info.rowBytes
    }

    /// Dequantizes row `r` into `out` (`cols` floats).
    func dequantizeRow(_ r: Int, into out: UnsafeMutablePointer<Float>) {
        ps_dequantize_row(type, base + r * rowBytes, out, Int64(cols))
    }

    /// y[b][r] = W[r] · x[b] for b < nb; x rows `cols` floats apart, y rows `yStride` apart.
    /// Output rows are split across the pool's threads (never one dot product across threads).
    /// Where the weight type has an integer path and the calling thread's activation mode is q8
    /// (`PIPESERVE_ACTIVATIONS`, `ps_activations_set`), x is quantized to 8 bits once, into the
    /// scratch's activation buffer, and every thread reads that copy.
    func multiply(_ x: UnsafePointer<Float>, batch nb: Int, into y: UnsafeMutablePointer<Float>, yStride: Int, pool: ThreadPool,
                  scratch: Scratch) {
        var xq: UnsafeRawPointer?
        if ps_activations_for(type) != 0 {
            let rowBytes = Int(ps_act_row_bytes(type, Int64(cols)))
            let buffer = scratch.bytes(.activations, nb * rowBytes)
            if pool.count == 1 || nb < 8 {
                ps_quantize_activations(type, x, Int64(cols), Int64(nb), Int64(cols), buffer)
            } else {
                // Row by row, so splitting the rows across threads gives the same bytes.
                var job = QuantizeJob(type: type, x: x, cols: cols, nb: nb, out: buffer, rowBytes: rowBytes)
                withUnsafeMutablePointer(to: &job) { ptr in
                    pool.run({ ctx, i, n in QuantizeJob.body(ctx!.assumingMemoryBound(to: QuantizeJob.self), Int(i), Int(n)) },
                             ptr, chunks: pool.count)
                }
            }
            xq = UnsafeRawPointer(buffer)
        }
        var job = MatmulJob(w: self, x: x, xq: xq, nb: nb, y: y, yStride: yStride)
        withUnsafeMutablePointer(to: &job) { ptr in
            let chunks = pool.count == 1 ? 1 : pool.chunkCount(items: (rows + 15) / 16, minItems: 4)
            pool.run({ ctx, i, n in MatmulJob.body(ctx!.assumingMemoryBound(to: MatmulJob.self), Int(i), Int(n)) }, ptr,
                     chunks: chunks)
        }
    }
}

private struct QuantizeJob {
    let type: Int32
    let x: UnsafePointer<Float>
    let cols: Int
    let nb: Int
    let out: UnsafeMutableRawPointer
    let rowBytes: Int

    static func body(_ p: UnsafeMutablePointer<QuantizeJob>, _ i: Int, _ n: Int) {
        let j = p.pointee
        let (b0, b1) = ThreadPool.share(j.nb, i, n)
        guard b0 < b1 else { return }
        ps_quantize_activations(j.type, j.x + b0 * j.cols, Int64(j.cols), Int64(b1 - b0), Int64(j.cols),
                                j.out + b0 * j.rowBytes)
    }
}

private struct MatmulJob {
    let w: WeightMatrix
    let x: UnsafePointer<Float>
    let xq: UnsafeRawPointer?   // 8-bit activations, or nil for the f32 path
    let nb: Int
    let y: UnsafeMutablePointer<Float>
    let yStride: Int

    static func body(_ p: UnsafeMutablePointer<MatmulJob>, _ i: Int, _ n: Int) {
        let j = p.pointee
        // Split on 16-row boundaries so each chunk's rows stay cache-line aligned in y.
        let groups = (j.w.rows + 15) / 16
        let (g0, g1) = ThreadPool.share(groups, i, n)
        let r0 = g0 * 16, r1 = min(j.w.rows, g1 * 16)
        guard r0 < r1 else { return }
        // Packed rows for one activation row only: there they skip the unpacking and scale
        // spreading the row-major tiles amortise over several rows. With 2 to 16 rows the row-major
        // tiles won on TinyLlama-sized Q8_0 matrices (packed 0.72-0.90x: each row re-reads a
        // 16-row group larger than L1) and tied on Gemma's Q5_0 ones (0.83-1.24x).
        if let xq = j.xq, j.nb == 1, let packed = j.w.packed {
            ps_matmul_q8_packed(j.w.type, packed.baseAddress, Int64(j.w.cols), xq, Int64(j.nb), j.y, Int64(j.yStride),
                                Int64(r0), Int64(r1))
        } else if let xq = j.xq {
            ps_matmul_q8(j.w.type, j.w.base, j.w.rowBytes, Int64(j.w.cols), xq, Int64(j.nb),
                         j.y, Int64(j.yStride), Int64(r0), Int64(r1))
        } else {
            ps_matmul(j.w.type, j.w.base, j.w.rowBytes, Int64(j.w.cols), j.x, Int64(j.w.cols), Int64(j.nb),
                      j.y, Int64(j.yStride), Int64(r0), Int64(r1))
        }
    }
}

/// Reads a 1-D tensor (norm weights, biases) as floats, whatever its stored type.
func loadVector(_ file: GGUFFile, _ name: String, count: Int) throws -> [Float] {
    guard let info = file.tensorInfo(name) else { throw ModelRuntimeError.missingTensor(name) }
    guard info.elementCount == count else { throw ModelRuntimeError.tensorShape(tensor: name, expected: [count], found: info.dims) }
    guard ps_type_supported(Int32(info.type.rawValue)) != 0 else {
        throw ModelRuntimeError.unsupportedTensorType(tensor: name, type: info.type.name)
    }
    var out = [Float](repeating: 0, count: count)
    let data = file.tensorData(info)
    out.withUnsafeMutableBufferPointer { ps_dequantize_row(Int32(info.type.rawValue), data.baseAddress!, $0.baseAddress!, Int64(count)) }
    return out
}
