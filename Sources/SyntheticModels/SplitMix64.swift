/// A small deterministic generator (SplitMix64, Steele et al. 2014) shared by the synthetic
/// models, their Python reference (scripts/reference/synthetic_reference.py) and the seeded
/// tests and benchmarks that build on them: the same seed gives the same stream everywhere.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// Uniform in [-1, 1).
    public mutating func nextSymmetric() -> Float { Float(Double(next() >> 40) / Double(1 << 24) * 2 - 1) }
}
