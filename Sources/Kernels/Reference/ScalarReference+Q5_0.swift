extension ScalarReference {
    /// Q5_0, 22 bytes: f16 d | qh (u32, little-endian) | qs[16]. Element j (< 16) is the low
    /// nibble of qs[j] plus bit j of qh as its fifth bit; element j + 16 the high nibble plus bit
    /// j + 16. w = (q - 16) * d.
    static func dequantizeQ5_0(_ b: BlockBytes, into out: inout [Float]) {
        let d = b.f16(0)
        let qh = b.u32(2)
        var values = [Float](repeating: 0, count: 32)
        for j in 0..<16 {
            let q = b.u8(6 + j)
            let lo = Int(q & 0x0F) | Int((qh >> UInt32(j)) & 1) << 4
            let hi = Int(q >> 4) | Int((qh >> UInt32(j + 16)) & 1) << 4
            values[j] = Float(lo - 16) * d
            values[j + 16] = Float(hi - 16) * d
        }
        out += values
    }
}
