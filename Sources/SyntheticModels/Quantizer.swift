import GGUF

/// Encodes floats into the block formats the synthetic models use (F32, F16, BF16, Q8_0, Q5_0,
/// Q4_0), after ggml's reference quantizers `quantize_row_q8_0_ref`, `quantize_row_q5_0_ref`,
/// `quantize_row_q4_0_ref`. Other types are not encodable (`encodable`).
public enum Quantizer {
    /// The types `encode` writes; any other type is written as F32 bytes, which is not its layout.
    public static let encodable: [GGMLType] = [.f32, .f16, .bf16, .q8_0, .q5_0, .q4_0]

    public static func encode(_ v: [Float], as type: GGMLType) -> [UInt8] {
        var out: [UInt8] = []
        func u16(_ x: UInt16) { out.append(UInt8(x & 0xFF)); out.append(UInt8(x >> 8)) }
        switch type {
        case .f16:
            out.reserveCapacity(v.count * 2)
            for x in v { u16(Float16(x).bitPattern) }
        case .bf16:
            for x in v {
                let b = x.bitPattern
                u16(UInt16(truncatingIfNeeded: (b &+ 0x7FFF &+ ((b >> 16) & 1)) >> 16))
            }
        case .q8_0:
            for blk in stride(from: 0, to: v.count, by: 32) {
                let xs = v[blk..<min(v.count, blk + 32)]
                let amax = xs.map(abs).max() ?? 0
                let d = amax / 127
                let id: Float = d != 0 ? 1 / d : 0
                u16(Float16(d).bitPattern)
                for x in xs { out.append(UInt8(bitPattern: Int8((x * id).rounded()))) }
            }
        case .q4_0:
            for blk in stride(from: 0, to: v.count, by: 32) {
                let xs = Array(v[blk..<min(v.count, blk + 32)])
                let (d, id) = signedScale(xs, levels: 8)
                u16(Float16(d).bitPattern)
                for j in 0..<16 {
                    let a = UInt8(min(15, Int8(xs[j] * id + 8.5)))
                    let b = UInt8(min(15, Int8(xs[j + 16] * id + 8.5)))
                    out.append(a | (b << 4))
                }
            }
        case .q5_0:
            for blk in stride(from: 0, to: v.count, by: 32) {
                let xs = Array(v[blk..<min(v.count, blk + 32)])
                let (d, id) = signedScale(xs, levels: 16)
                u16(Float16(d).bitPattern)
                let q = xs.map { UInt8(min(31, Int8(($0 * id + 16.5).rounded(.towardZero)))) }
                var qh: UInt32 = 0
                for j in 0..<32 { qh |= UInt32(q[j] >> 4) << UInt32(j) }
                for s in stride(from: 0, to: 32, by: 8) { out.append(UInt8((qh >> UInt32(s)) & 0xFF)) }
                for j in 0..<16 { out.append((q[j] & 0xF) | ((q[j + 16] & 0xF) << 4)) }
            }
        default:  // F32
            out.reserveCapacity(v.count * 4)
            for x in v { let b = x.bitPattern; for s in stride(from: 0, to: 32, by: 8) { out.append(UInt8((b >> UInt32(s)) & 0xFF)) } }
        }
        return out
    }

    /// ggml's scale for the signed 4- and 5-bit formats: the block's value of largest magnitude
    /// maps to -levels, so d = that value / -levels (and its inverse, 0 for an all-zero block).
    private static func signedScale(_ xs: [Float], levels: Float) -> (d: Float, id: Float) {
        var maxAbs: Float = 0, maxV: Float = 0
        for x in xs where abs(x) > maxAbs { maxAbs = abs(x); maxV = x }
        let d = maxV / -levels
        return (d, d != 0 ? 1 / d : 0)
    }
}
