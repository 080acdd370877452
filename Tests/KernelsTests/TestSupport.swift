import CKernels
import Kernels
import Testing

/// All tests that switch the process-wide kernel ISA level run inside this serialized suite,
/// so no two of them change the level under each other.
@Suite(.serialized) struct KernelISASuites {}

/// A small deterministic generator (SplitMix64) so every failure reproduces.
struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Runs `body` at every ISA level this CPU has, then restores the detected level.
func forEachISA(_ body: (KernelISA) throws -> Void) rethrows {
    defer { KernelISA.select(KernelISA.detected) }
    for level in KernelISA.available {
        let now = KernelISA.select(level)
        #expect(now == level)
        try body(level)
    }
}

enum TestData {
    /// Random weight rows: random bytes for the quants, with finite, sane f16 scales written over
    /// the scale fields; random floats in [-2, 2] for the float formats.
    static func weights(_ format: WeightFormat, rows: Int, k: Int, rng: inout SplitMix) -> [UInt8] {
        let rowBytes = format.rowBytes(k)!
        var bytes = (0..<(rows * rowBytes)).map { _ in UInt8.random(in: 0...255, using: &rng) }
        func putHalf(_ value: Float, at offset: Int) {
            let bits = Float16(value).bitPattern
            bytes[offset] = UInt8(bits & 0xFF)
            bytes[offset + 1] = UInt8(bits >> 8)
        }
        func scale() -> Float {
            Float.random(in: 0.001...0.05, using: &rng) * (Bool.random(using: &rng) ? 1 : -1)
        }
        let blocks = rows * k / format.blockElements
        for blockIndex in 0..<blocks {
            let o = blockIndex * format.blockBytes
            switch format {
            case .f32:
                let bits = Float.random(in: -2...2, using: &rng).bitPattern
                for i in 0..<4 { bytes[o + i] = UInt8(truncatingIfNeeded: bits >> (8 * UInt32(i))) }
            case .f16:
                putHalf(Float.random(in: -2...2, using: &rng), at: o)
            case .bf16:
                let bits = Float.random(in: -2...2, using: &rng).bitPattern >> 16
                bytes[o] = UInt8(truncatingIfNeeded: bits)
                bytes[o + 1] = UInt8(truncatingIfNeeded: bits >> 8)
            case .q4_0, .q5_0, .q8_0:
                putHalf(scale(), at: o)
            case .q4_K, .q5_K:
                putHalf(abs(scale()), at: o)
                putHalf(abs(scale()), at: o + 2)
            case .q6_K:
                putHalf(scale(), at: o + 208)
            }
        }
        return bytes
    }

    static func activations(count: Int, rng: inout SplitMix) -> [Float] {
        (0..<count).map { _ in Float.random(in: -1...1, using: &rng) }
    }

    /// Row lengths worth testing for a format: one block, a few blocks, and more than one
    /// 2048-element chunk of the kernels; odd lengths for the float formats.
    static func lengths(_ format: WeightFormat) -> [Int] {
        switch format.blockElements {
        case 1: [1, 37, 640, 4103]
        case 32: [32, 96, 640, 4160]
        default: [256, 768, 4608]
        }
    }
}

/// The index of the first element where `a` and `b` differ bitwise, or nil.
func firstBitwiseMismatch(_ a: [Float], _ b: [Float]) -> Int? {
    if a.count != b.count { return min(a.count, b.count) }
    return zip(a, b).enumerated().first { $0.element.0.bitPattern != $0.element.1.bitPattern }?.offset
}
