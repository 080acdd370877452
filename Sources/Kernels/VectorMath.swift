import CKernels

/// The float32 vector operations of a transformer layer around its matrix products: RMS norm,
/// element-wise add and scale, the gated FFN activations, and argmax. Thin faces over the C
/// kernels (`ps_ops.h`): no checks and no allocation, inlined into the caller's loop. Each reduces
/// in a fixed order per output element, so results do not depend on how rows are batched or split
/// across threads (DESIGN.md, "Determinism").
public enum VectorMath {
    /// `y = x / sqrt(mean(x²) + epsilon) * weight` for each of `rows` rows of `count` floats, rows
    /// `xStride` (`yStride`) floats apart; `y` may be `x`.
    @inlinable
    public static func rmsNorm(_ x: UnsafePointer<Float>, stride xStride: Int, weight: UnsafePointer<Float>,
                               into y: UnsafeMutablePointer<Float>, stride yStride: Int, rows: Int, count: Int, epsilon: Float) {
        ps_rmsnorm_rows(x, Int64(xStride), weight, y, Int64(yStride), Int64(rows), Int64(count), epsilon)
    }

    /// `y[i] += x[i]` for `i < count`.
    @inlinable
    public static func add(_ x: UnsafePointer<Float>, to y: UnsafeMutablePointer<Float>, count: Int) {
        ps_add(y, x, Int64(count))
    }

    /// `y[i] = x[i] * factor` for `i < count`; `y` may be `x`.
    @inlinable
    public static func scale(_ x: UnsafePointer<Float>, by factor: Float, into y: UnsafeMutablePointer<Float>, count: Int) {
        ps_scale(y, x, factor, Int64(count))
    }

    /// `g[i] = gelu_tanh(g[i]) * u[i]` (Gemma's gated FFN). Its exp is a polynomial of plain IEEE
    /// operations, so the result is the same bits at every ISA level.
    @inlinable
    public static func geluTanhGate(_ g: UnsafeMutablePointer<Float>, times u: UnsafePointer<Float>, count: Int) {
        ps_gelu_tanh_mul(g, u, Int64(count))
    }

    /// `g[i] = silu(g[i]) * u[i]` (Llama's and Qwen2's gated FFN), the same bits at every ISA level.
    @inlinable
    public static func siluGate(_ g: UnsafeMutablePointer<Float>, times u: UnsafePointer<Float>, count: Int) {
        ps_silu_mul(g, u, Int64(count))
    }

    /// `w[i] = exp((x[i] - max) * invT)`, the sampler's weights, vectorised with the activations'
    /// exp polynomial (arguments clamped to [-87, 88]): the same bits at every ISA level.
    @inlinable
    public static func samplingWeights(_ x: UnsafePointer<Float>, count: Int, max: Float, invT: Float,
                                       into w: UnsafeMutablePointer<Float>) {
        ps_sampling_weights(x, Int64(count), max, invT, w)
    }

    /// Index of the largest of `count` floats (the first on ties; a NaN is never the largest unless
    /// it comes first; 0 when `count` <= 0), vectorised and the same on every ISA level: greedy
    /// decoding scans the whole vocabulary every token.
    @inlinable
    public static func argmax(_ x: UnsafePointer<Float>, count: Int) -> Int {
        Int(ps_argmax(x, Int64(count)))
    }
}
