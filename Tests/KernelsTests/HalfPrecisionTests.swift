import Kernels
import Testing

@Suite struct HalfPrecisionTests {
    @Test("f16 -> f32 agrees with Swift's Float16 for all 65536 patterns")
    func f16Widening() {
        for bits in 0...UInt16.max {
            let mine = HalfPrecision.f16ToFloat(bits)
            let swift = Float(Float16(bitPattern: bits))
            if swift.isNaN {
                #expect(mine.isNaN, "f16 \(bits) should be NaN")
            } else {
                #expect(mine.bitPattern == swift.bitPattern, "f16 \(bits): \(mine) vs \(swift)")
            }
        }
    }

    @Test("f16 round-trips every non-NaN pattern, incl. subnormals, ±0 and ±inf")
    func f16RoundTrip() {
        for bits in 0...UInt16.max {
            let f = HalfPrecision.f16ToFloat(bits)
            if f.isNaN {
                #expect(HalfPrecision.f16ToFloat(HalfPrecision.floatToF16(f)).isNaN)
            } else {
                #expect(HalfPrecision.floatToF16(f) == bits, "pattern \(bits) (\(f))")
            }
        }
    }

    @Test("f32 -> f16 rounds to nearest even like Swift's Float16")
    func f16Narrowing() {
        var rng = SplitMix(seed: 16)
        var cases: [Float] = [0, -0, 1, 65504, 65519.99, 65520, 70000, -70000, .infinity, -.infinity,
                              0x1p-24, 0x1p-25, 0x1.8p-25, 0x1p-26, 0x1.8p-24, 0x1p-14, 0x1.ffcp-15,
                              1 + 0x1p-11, 1 + 0x1p-11 + 0x1p-20, 1 + 0x3p-11, .leastNonzeroMagnitude,
                              .greatestFiniteMagnitude]
        for _ in 0..<20000 {
            cases.append(Float(bitPattern: UInt32.random(in: 0...UInt32.max, using: &rng)))
            cases.append(Float.random(in: -70000...70000, using: &rng))
            cases.append(Float.random(in: -1e-4...1e-4, using: &rng))
        }
        for f in cases {
            let mine = HalfPrecision.floatToF16(f)
            if f.isNaN {
                #expect(Float16(bitPattern: mine).isNaN, "NaN \(f.bitPattern) must stay NaN")
            } else {
                let swift = Float16(f).bitPattern
                #expect(mine == swift, "f32 \(f) (\(f.bitPattern)): \(mine) vs Swift \(swift)")
            }
        }
    }

    @Test("bf16 round-trips, rounds to nearest even and keeps NaN")
    func bf16() {
        for bits in 0...UInt16.max {
            let f = HalfPrecision.bf16ToFloat(bits)
            #expect(f.bitPattern == UInt32(bits) << 16)
            if f.isNaN {
                #expect(HalfPrecision.bf16ToFloat(HalfPrecision.floatToBF16(f)).isNaN)
            } else {
                #expect(HalfPrecision.floatToBF16(f) == bits)
            }
        }
        // Halfway cases go to the even neighbour; just above halfway rounds up.
        #expect(HalfPrecision.floatToBF16(Float(bitPattern: 0x3F80_8000)) == 0x3F80)
        #expect(HalfPrecision.floatToBF16(Float(bitPattern: 0x3F81_8000)) == 0x3F82)
        #expect(HalfPrecision.floatToBF16(Float(bitPattern: 0x3F80_8001)) == 0x3F81)
        #expect(HalfPrecision.floatToBF16(Float(bitPattern: 0x0000_8001)) == 0x0001)   // subnormal
        #expect(HalfPrecision.floatToBF16(Float(bitPattern: 0x7F7F_FFFF)) == 0x7F80)   // overflow to inf
        #expect(HalfPrecision.floatToBF16(-.infinity) == 0xFF80)
        // Signalling NaN (payload only in the low bits) becomes a quiet NaN rather than infinity.
        #expect(HalfPrecision.bf16ToFloat(HalfPrecision.floatToBF16(Float(bitPattern: 0x7F80_0001))).isNaN)
    }
}
