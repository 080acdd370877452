/// Conversions between in-memory f32 activations and their wire encodings.
/// f16: IEEE round-to-nearest-even, overflow → ±inf, NaN stays NaN, done with integer bit
/// manipulation (F. Giesen's float_to_half_fast3_rtne / half_to_float): Swift's `Float16`
/// conversions compile to library calls on x86 without F16C, ~10× slower. Tests check these
/// against `Float16` on every half value and every rounding midpoint.
/// bf16 keeps the top 16 bits of the f32 with round-to-nearest-even and quiets NaNs.
enum ActivationConversion {
    @inline(__always) static func f16Bits(_ x: Float) -> UInt16 {
        var f = x.bitPattern
        let sign = f & 0x8000_0000
        f ^= sign
        var o: UInt32
        if f >= 0x4780_0000 {                       // ≥ 65536 (after rounding: inf), inf or NaN
            o = f > 0x7F80_0000 ? 0x7E00 : 0x7C00
        } else if f < 0x3880_0000 {                 // below the smallest normal half: subnormal or 0
            let magic: UInt32 = 0x3F00_0000         // ((127 - 15) + (23 - 10) + 1) << 23
            let r = Float(bitPattern: f) + Float(bitPattern: magic)  // the FPU rounds to nearest even
            o = r.bitPattern &- magic
        } else {
            let mantissaOdd = (f >> 13) & 1
            f = f &+ 0xC800_0FFF                    // rebias exponent ((15 - 127) << 23) and add 0xfff
            f = f &+ mantissaOdd
            o = f >> 13
        }
        return UInt16(truncatingIfNeeded: o | (sign >> 16))
    }

    @inline(__always) static func fromF16Bits(_ h: UInt16) -> Float {
        let magic = Float(bitPattern: 113 << 23)
        var o = UInt32(h & 0x7FFF) << 13             // exponent + mantissa
        let exponent = o & 0x0F80_0000
        o = o &+ ((127 - 15) << 23)
        if exponent == 0x0F80_0000 {                 // inf / NaN
            o = o &+ ((128 - 16) << 23)
        } else if exponent == 0 {                    // zero / subnormal
            o = o &+ (1 << 23)
            o = (Float(bitPattern: o) - magic).bitPattern
        }
        return Float(bitPattern: o | (UInt32(h & 0x8000) << 16))
    }

    @inline(__always) static func bf16Bits(_ x: Float) -> UInt16 {
        let b = x.bitPattern
        if x.isNaN { return UInt16(truncatingIfNeeded: b >> 16) | 0x0040 }
        let rounded = b &+ 0x7FFF &+ ((b >> 16) & 1)
        return UInt16(truncatingIfNeeded: rounded >> 16)
    }

    @inline(__always) static func fromBF16Bits(_ h: UInt16) -> Float {
        Float(bitPattern: UInt32(h) << 16)
    }

    /// Writes `src` in `dtype` (little-endian) into `dst`, which holds exactly `src.count * dtype.byteWidth` bytes.
    static func encode(_ src: UnsafeBufferPointer<Float>, as dtype: WireActivationDType, into dst: UnsafeMutableRawBufferPointer) {
        switch dtype {
        case .f32:
            #if _endian(little)
            dst.copyMemory(from: UnsafeRawBufferPointer(src))
            #else
            for i in 0 ..< src.count { dst.storeBytes(of: src[i].bitPattern.littleEndian, toByteOffset: 4 * i, as: UInt32.self) }
            #endif
        case .f16:
            for i in 0 ..< src.count {
                dst.storeBytes(of: f16Bits(src[i]).littleEndian, toByteOffset: 2 * i, as: UInt16.self)
            }
        case .bf16:
            for i in 0 ..< src.count {
                dst.storeBytes(of: bf16Bits(src[i]).littleEndian, toByteOffset: 2 * i, as: UInt16.self)
            }
        }
    }

    /// Widens `count` wire elements of `dtype` from `src` into a new f32 array.
    static func decode(_ src: UnsafeRawBufferPointer, as dtype: WireActivationDType, count: Int) -> [Float] {
        [Float](unsafeUninitializedCapacity: count) { dst, initialized in
            switch dtype {
            case .f32:
                #if _endian(little)
                UnsafeMutableRawBufferPointer(dst).copyMemory(from: UnsafeRawBufferPointer(rebasing: src[0 ..< 4 * count]))
                #else
                for i in 0 ..< count {
                    dst[i] = Float(bitPattern: UInt32(littleEndian: src.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)))
                }
                #endif
            case .f16:
                for i in 0 ..< count {
                    let h = UInt16(littleEndian: src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))
                    dst[i] = fromF16Bits(h)
                }
            case .bf16:
                for i in 0 ..< count {
                    let h = UInt16(littleEndian: src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))
                    dst[i] = fromBF16Bits(h)
                }
            }
            initialized = count
        }
    }
}
