/// Plain, obviously-correct scalar Swift dequantization for every `WeightFormat`, written
/// straight from ggml's block layouts (ggml-common.h, ggml-quants.c `dequantize_row_*`). It is
/// slow on purpose: it is the reference the tests trust, and shares no code with the C kernels
/// (half floats go through Swift's own `Float16`).
public enum ScalarReference {
    /// Dequantizes the first `count` elements encoded in `bytes`. Returns nil when `count` is
    /// not a multiple of the block size or `bytes` is too short.
    public static func dequantize(_ format: WeightFormat, _ bytes: UnsafeRawBufferPointer, count: Int) -> [Float]? {
        guard let need = format.rowBytes(count), bytes.count >= need else { return nil }
        var out: [Float] = []
        out.reserveCapacity(count)
        let blocks = count / format.blockElements
        for blockIndex in 0..<blocks {
            let block = BlockBytes(bytes, offset: blockIndex * format.blockBytes)
            switch format {
            case .f32: out.append(Float(bitPattern: block.u32(0)))
            case .f16: out.append(block.f16(0))
            case .bf16: out.append(Float(bitPattern: UInt32(block.u16(0)) << 16))
            case .q4_0: dequantizeQ4_0(block, into: &out)
            case .q5_0: dequantizeQ5_0(block, into: &out)
            case .q8_0: dequantizeQ8_0(block, into: &out)
            case .q4_K: dequantizeQ4_K(block, into: &out)
            case .q5_K: dequantizeQ5_K(block, into: &out)
            case .q6_K: dequantizeQ6_K(block, into: &out)
            }
        }
        return out
    }

    /// Σ w[i] * x[i] accumulated in Double, with Σ |w[i] * x[i]| (the scale a float32 result's
    /// rounding error is measured against).
    public static func referenceDot(_ w: [Float], _ x: UnsafeBufferPointer<Float>) -> (sum: Double, magnitude: Double) {
        var sum = 0.0, magnitude = 0.0
        for i in 0..<min(w.count, x.count) {
            let p = Double(w[i]) * Double(x[i])
            sum += p
            magnitude += abs(p)
        }
        return (sum, magnitude)
    }
}

/// Little-endian reads from one block of a weight row.
struct BlockBytes {
    let bytes: UnsafeRawBufferPointer
    let offset: Int

    init(_ bytes: UnsafeRawBufferPointer, offset: Int) {
        self.bytes = bytes
        self.offset = offset
    }

    func u8(_ i: Int) -> UInt8 { bytes[offset + i] }
    func i8(_ i: Int) -> Int8 { Int8(bitPattern: bytes[offset + i]) }
    func u16(_ i: Int) -> UInt16 { UInt16(u8(i)) | UInt16(u8(i + 1)) << 8 }
    func u32(_ i: Int) -> UInt32 { UInt32(u16(i)) | UInt32(u16(i + 2)) << 16 }
    /// An IEEE half at byte i, widened exactly.
    func f16(_ i: Int) -> Float { Float(Float16(bitPattern: u16(i))) }
}
