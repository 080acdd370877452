import CKernels

/// IEEE binary16 and bfloat16 conversions used by the weight formats (round-to-nearest-even;
/// subnormals, infinities and NaNs preserved), shared with the C kernels so both agree bitwise.
public enum HalfPrecision {
    /// binary16 bits to Float.
    @inlinable public static func f16ToFloat(_ h: UInt16) -> Float { ps_f16_to_f32(h) }
    /// Float to binary16 bits, rounded to nearest even.
    @inlinable public static func floatToF16(_ f: Float) -> UInt16 { ps_f32_to_f16(f) }
    /// bfloat16 bits to Float.
    @inlinable public static func bf16ToFloat(_ h: UInt16) -> Float { ps_bf16_to_f32(h) }
    /// Float to bfloat16 bits, rounded to nearest even; NaN stays a quiet NaN.
    @inlinable public static func floatToBF16(_ f: Float) -> UInt16 { ps_f32_to_bf16(f) }
}
