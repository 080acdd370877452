extension ScalarReference {
    /// Q4_0, 18 bytes: f16 d | qs[16]. Element j (< 16) is the low nibble of qs[j], element
    /// j + 16 the high nibble; w = (nibble - 8) * d.
    static func dequantizeQ4_0(_ b: BlockBytes, into out: inout [Float]) {
        let d = b.f16(0)
        var values = [Float](repeating: 0, count: 32)
        for j in 0..<16 {
            let q = b.u8(2 + j)
            values[j] = Float(Int(q & 0x0F) - 8) * d
            values[j + 16] = Float(Int(q >> 4) - 8) * d
        }
        out += values
    }
}
