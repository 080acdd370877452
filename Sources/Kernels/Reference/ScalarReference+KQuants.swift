extension ScalarReference {
    /// The 6-bit scale and min of sub-block j (0..<8) of a Q4_K/Q5_K block, packed in 12 bytes
    /// (ggml's get_scale_min_k4): sub-blocks 0-3 use the low 6 bits of bytes j and j + 4;
    /// sub-blocks 4-7 take their low 4 bits from byte j + 4 and their top 2 bits from the top
    /// bits of bytes j - 4 (scale) and j (min).
    static func scaleMinK4(_ j: Int, _ b: BlockBytes, scalesAt base: Int) -> (scale: UInt8, min: UInt8) {
        func s(_ i: Int) -> UInt8 { b.u8(base + i) }
        if j < 4 {
            return (s(j) & 63, s(j + 4) & 63)
        }
        return ((s(j + 4) & 0x0F) | ((s(j - 4) >> 6) << 4),
                (s(j + 4) >> 4) | ((s(j) >> 6) << 4))
    }

    /// Q4_K, 144 bytes: f16 d | f16 dmin | scales[12] | qs[128]. Four 64-element chunks c:
    /// bytes qs[32c..<32c+32] give sub-block 2c in their low nibbles and 2c + 1 in their high
    /// nibbles; w = (d * scale) * q - (dmin * min).
    static func dequantizeQ4_K(_ b: BlockBytes, into out: inout [Float]) {
        let d = b.f16(0), dmin = b.f16(2)
        for c in 0..<4 {
            let (sc1, m1) = scaleMinK4(2 * c, b, scalesAt: 4)
            let (sc2, m2) = scaleMinK4(2 * c + 1, b, scalesAt: 4)
            let d1 = d * Float(sc1), min1 = dmin * Float(m1)
            let d2 = d * Float(sc2), min2 = dmin * Float(m2)
            for l in 0..<32 { out.append(d1 * Float(b.u8(16 + 32 * c + l) & 0x0F) - min1) }
            for l in 0..<32 { out.append(d2 * Float(b.u8(16 + 32 * c + l) >> 4) - min2) }
        }
    }

    /// Q5_K, 176 bytes: f16 d | f16 dmin | scales[12] | qh[32] | qs[128]. As Q4_K, plus a fifth
    /// bit for element l of sub-block s taken from bit s of qh[l].
    static func dequantizeQ5_K(_ b: BlockBytes, into out: inout [Float]) {
        let d = b.f16(0), dmin = b.f16(2)
        for c in 0..<4 {
            let (sc1, m1) = scaleMinK4(2 * c, b, scalesAt: 4)
            let (sc2, m2) = scaleMinK4(2 * c + 1, b, scalesAt: 4)
            let d1 = d * Float(sc1), min1 = dmin * Float(m1)
            let d2 = d * Float(sc2), min2 = dmin * Float(m2)
            for l in 0..<32 {
                let q = Int(b.u8(48 + 32 * c + l) & 0x0F) + ((b.u8(16 + l) >> UInt8(2 * c)) & 1 == 1 ? 16 : 0)
                out.append(d1 * Float(q) - min1)
            }
            for l in 0..<32 {
                let q = Int(b.u8(48 + 32 * c + l) >> 4) + ((b.u8(16 + l) >> UInt8(2 * c + 1)) & 1 == 1 ? 16 : 0)
                out.append(d2 * Float(q) - min2)
            }
        }
    }

    /// Q6_K, 210 bytes: ql[128] | qh[64] | int8 scales[16] | f16 d. Two 128-element halves h
    /// use ql[64h..<64h+64], qh[32h..<32h+32], scales[8h..<8h+8]. For l < 32 the four 6-bit
    /// values at l, l+32, l+64, l+96 take low bits from the low nibble of ql[l], the low nibble
    /// of ql[l+32], the high nibble of ql[l], the high nibble of ql[l+32], and high bits from bit
    /// pairs 0-1, 2-3, 4-5, 6-7 of qh[l]. Element e of the half has scale scales[e / 16];
    /// w = (d * scale) * (q - 32).
    static func dequantizeQ6_K(_ b: BlockBytes, into out: inout [Float]) {
        let d = b.f16(208)
        for h in 0..<2 {
            var values = [Float](repeating: 0, count: 128)
            for l in 0..<32 {
                let ql0 = b.u8(64 * h + l), ql1 = b.u8(64 * h + l + 32), qh = b.u8(128 + 32 * h + l)
                let q: [Int] = [
                    Int(ql0 & 0x0F) | Int(qh & 3) << 4,
                    Int(ql1 & 0x0F) | Int((qh >> 2) & 3) << 4,
                    Int(ql0 >> 4) | Int((qh >> 4) & 3) << 4,
                    Int(ql1 >> 4) | Int((qh >> 6) & 3) << 4,
                ]
                for g in 0..<4 {
                    let e = l + 32 * g
                    let scale = Float(b.i8(192 + 8 * h + e / 16))
                    values[e] = d * scale * Float(q[g] - 32)
                }
            }
            out += values
        }
    }
}
