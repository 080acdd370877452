import CKernels

// The products of `QuantizedMatmul` and `PackedWeights` without their argument checks, for hot
// loops over matrices whose shapes were checked once, when they were loaded (a model's forward
// splits each product into chunks across threads and calls one of these per chunk). Each is the
// C call and nothing else: no throw, no allocation, inlined into the caller. The checked forms
// say what the arguments must be; these trust the caller.

extension ActivationPrecision {
    /// Whether a product with weights of `format` on the calling thread takes 8-bit activations:
    /// the thread's mode is `q8` and the format has an integer path.
    @inlinable
    public static func quantizes(_ format: WeightFormat) -> Bool { ps_activations_for(format.rawValue) != 0 }
}

extension QuantizedMatmul {
    /// `multiply` (f32 activations) of weight rows `rows`, unchecked.
    @inlinable
    public static func multiplyUnchecked(
        format: WeightFormat, weights: UnsafeRawPointer, rowBytes: Int, k: Int,
        x: UnsafePointer<Float>, xStride: Int, batch: Int,
        y: UnsafeMutablePointer<Float>, yStride: Int, rows: Range<Int>
    ) {
        ps_matmul(format.rawValue, weights, rowBytes, Int64(k), x, Int64(xStride), Int64(batch),
                  y, Int64(yStride), Int64(rows.lowerBound), Int64(rows.upperBound))
    }

    /// `multiplyQuantized` (8-bit activations from `quantizeActivations`) of weight rows `rows`,
    /// unchecked.
    @inlinable
    public static func multiplyQuantizedUnchecked(
        format: WeightFormat, weights: UnsafeRawPointer, rowBytes: Int, k: Int,
        xq: UnsafeRawPointer, batch: Int, y: UnsafeMutablePointer<Float>, yStride: Int, rows: Range<Int>
    ) {
        ps_matmul_q8(format.rawValue, weights, rowBytes, Int64(k), xq, Int64(batch), y, Int64(yStride),
                     Int64(rows.lowerBound), Int64(rows.upperBound))
    }

    /// `quantizeActivations`, unchecked.
    @inlinable
    public static func quantizeActivationsUnchecked(
        format: WeightFormat, x: UnsafePointer<Float>, xStride: Int, batch: Int, k: Int,
        into destination: UnsafeMutableRawPointer
    ) {
        ps_quantize_activations(format.rawValue, x, Int64(xStride), Int64(batch), Int64(k), destination)
    }

    /// `dequantize`, unchecked.
    @inlinable
    public static func dequantizeUnchecked(
        format: WeightFormat, source: UnsafeRawPointer, count: Int, into destination: UnsafeMutablePointer<Float>
    ) {
        ps_dequantize_row(format.rawValue, source, destination, Int64(count))
    }
}

extension PackedWeights {
    /// `multiplyQuantized` on these rows, unchecked (`rows` on multiples of 16).
    @inlinable
    public func multiplyQuantizedUnchecked(xq: UnsafeRawPointer, batch: Int, y: UnsafeMutablePointer<Float>, yStride: Int,
                                           rows range: Range<Int>) {
        ps_matmul_q8_packed(format.rawValue, storage, Int64(k), xq, Int64(batch), y, Int64(yStride),
                            Int64(range.lowerBound), Int64(range.upperBound))
    }
}
