import CKernels

/// How matrix products treat their activations: exact f32, or quantized to 8 bits per element
/// and multiplied in integers, which is faster. The 8-bit layout refines ggml's (a scale per 8
/// elements for Q4_0/Q5_0/Q8_0 weights where ggml has one per 32; for the K-quants a power-of-two
/// finer scale per 32 inside ggml's blocks of 256: ps_quant.h), which halves the error against
/// float64 on Gemma 3 at the same decode speed (prefill 3-4 % slower).
public enum ActivationPrecision: Int32, Sendable, CaseIterable {
    case f32 = 0
    case q8 = 1

    /// The mode on the calling thread: set by `select` on this thread, else `q8` unless the
    /// environment variable `PIPESERVE_ACTIVATIONS=f32` is set.
    public static var current: ActivationPrecision { ActivationPrecision(rawValue: ps_activations_current()) ?? .q8 }

    /// Selects a mode for the calling thread only (so tests can compare both paths without
    /// disturbing others); returns it.
    @discardableResult
    public static func select(_ mode: ActivationPrecision) -> ActivationPrecision {
        ActivationPrecision(rawValue: ps_activations_set(mode.rawValue)) ?? .q8
    }
}

extension WeightFormat {
    /// Bytes of one row of `k` 8-bit activations for weights of this format, or nil when the
    /// format has no integer path (F32, F16, BF16) or `k` is not a multiple of its block size.
    public func quantizedActivationRowBytes(_ k: Int) -> Int? {
        let n = Int(ps_act_row_bytes(rawValue, Int64(k)))
        return n > 0 ? n : nil
    }
}

extension QuantizedMatmul {
    /// Quantizes `batch` rows of `k` floats (`xStride` apart) to the 8-bit layout of `format`,
    /// rows `format.quantizedActivationRowBytes(k)` apart in `destination`.
    public static func quantizeActivations(
        format: WeightFormat, x: UnsafePointer<Float>, xStride: Int, batch: Int, k: Int,
        into destination: UnsafeMutableRawPointer
    ) throws(KernelsError) {
        guard format.quantizedActivationRowBytes(k) != nil else { throw .rowLengthNotBlockMultiple(format: format, k: k) }
        guard batch >= 0, batch <= 1 || xStride >= k else {
            throw .invalidShape("batch \(batch), xStride \(xStride), k \(k)")
        }
        if batch == 0 { return }
        ps_quantize_activations(format.rawValue, x, Int64(xStride), Int64(batch), Int64(k), destination)
    }

    /// The integer path: `y[b * yStride + r] = W[r] · xq[b]` with `xq` from `quantizeActivations`
    /// (same format and `k`). Results are bitwise independent of the batch, the row range, the
    /// position in the batch and the ISA level.
    public static func multiplyQuantized(
        format: WeightFormat, weights: UnsafeRawPointer, rowBytes: Int, k: Int,
        xq: UnsafeRawPointer, batch: Int, y: UnsafeMutablePointer<Float>, yStride: Int, rows: Range<Int>
    ) throws(KernelsError) {
        guard format.quantizedActivationRowBytes(k) != nil, let needed = format.rowBytes(k) else {
            throw .rowLengthNotBlockMultiple(format: format, k: k)
        }
        guard rowBytes >= needed else {
            throw .rowStrideTooSmall(format: format, k: k, rowBytes: rowBytes, needed: needed)
        }
        guard batch >= 0, rows.lowerBound >= 0, batch <= 1 || yStride >= rows.upperBound else {
            throw .invalidShape("batch \(batch), rows \(rows), yStride \(yStride), k \(k)")
        }
        if batch == 0 || rows.isEmpty { return }
        ps_matmul_q8(format.rawValue, weights, rowBytes, Int64(k), xq, Int64(batch), y, Int64(yStride),
                     Int64(rows.lowerBound), Int64(rows.upperBound))
    }

    /// `multiply` with the activations treated as `activations` says: `.f32` is `multiply`;
    /// `.q8` quantizes x into a temporary buffer and runs the integer path (formats without one
    /// fall back to f32).
    public static func multiply(
        format: WeightFormat, weights: UnsafeRawPointer, rowBytes: Int, k: Int,
        x: UnsafePointer<Float>, xStride: Int, batch: Int,
        y: UnsafeMutablePointer<Float>, yStride: Int, rows: Range<Int>, activations: ActivationPrecision
    ) throws(KernelsError) {
        guard activations == .q8, let qRow = format.quantizedActivationRowBytes(k), batch > 0 else {
            try multiply(format: format, weights: weights, rowBytes: rowBytes, k: k, x: x, xStride: xStride,
                         batch: batch, y: y, yStride: yStride, rows: rows)
            return
        }
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: batch * qRow, alignment: 64)
        defer { buffer.deallocate() }
        try quantizeActivations(format: format, x: x, xStride: xStride, batch: batch, k: k, into: buffer)
        try multiplyQuantized(format: format, weights: weights, rowBytes: rowBytes, k: k, xq: buffer, batch: batch,
                              y: y, yStride: yStride, rows: rows)
    }
}
