extension ScalarReference {
    /// Q8_0, 34 bytes: f16 d | int8 qs[32]; w = q * d.
    static func dequantizeQ8_0(_ b: BlockBytes, into out: inout [Float]) {
        let d = b.f16(0)
        for j in 0..<32 {
            out.append(Float(b.i8(2 + j)) * d)
        }
    }
}
