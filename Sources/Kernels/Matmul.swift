import CKernels

/// Matrix products of quantized (or float) weights with f32 activations (`multiply`) or 8-bit
/// activations (`Matmul+QuantizedActivations.swift`), and row dequantization, running the
/// fastest kernel level selected in `KernelISA`.
///
/// Results for one (weight row, activation row) pair are bitwise identical whatever the batch
/// size, the row range and the position in the batch, so splitting rows across threads or
/// batching sequences never changes a token.
public enum QuantizedMatmul {
    /// Computes `y[b * yStride + r] = Σ_i W[r][i] * x[b * xStride + i]` for `r` in `rows`,
    /// `b` in `0..<batch`.
    ///
    /// - Parameters:
    ///   - weights: the first byte of weight row 0; row `r` starts at `weights + r * rowBytes`.
    ///   - rowBytes: distance between weight rows, at least `format.rowBytes(k)`.
    ///   - k: elements per weight row, a multiple of `format.blockElements`.
    ///   - x: `batch` activation rows of `k` floats, `xStride` floats apart.
    ///   - y: output; row `b` of the result starts at `y + b * yStride`.
    ///   - rows: the weight rows to compute (the caller splits these across threads).
    public static func multiply(
        format: WeightFormat, weights: UnsafeRawPointer, rowBytes: Int, k: Int,
        x: UnsafePointer<Float>, xStride: Int, batch: Int,
        y: UnsafeMutablePointer<Float>, yStride: Int, rows: Range<Int>
    ) throws(KernelsError) {
        guard let needed = format.rowBytes(k) else {
            throw .rowLengthNotBlockMultiple(format: format, k: k)
        }
        guard rowBytes >= needed else {
            throw .rowStrideTooSmall(format: format, k: k, rowBytes: rowBytes, needed: needed)
        }
        guard batch >= 0, rows.lowerBound >= 0, batch <= 1 || (xStride >= k && yStride >= rows.upperBound) else {
            throw .invalidShape("batch \(batch), rows \(rows), xStride \(xStride), yStride \(yStride), k \(k)")
        }
        if batch == 0 || rows.isEmpty { return }
        ps_matmul(format.rawValue, weights, rowBytes, Int64(k), x, Int64(xStride), Int64(batch),
                  y, Int64(yStride), Int64(rows.lowerBound), Int64(rows.upperBound))
    }

    /// Dequantizes `count` elements (a multiple of `format.blockElements`) starting at `source`.
    public static func dequantize(
        format: WeightFormat, source: UnsafeRawPointer, count: Int, into destination: UnsafeMutablePointer<Float>
    ) throws(KernelsError) {
        guard format.rowBytes(count) != nil else {
            throw .rowLengthNotBlockMultiple(format: format, k: count)
        }
        ps_dequantize_row(format.rawValue, source, destination, Int64(count))
    }
}
