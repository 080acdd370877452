/// A small seeded pseudo-random generator (SplitMix64, Steele et al. 2014). The module's only
/// source of randomness: the same seed gives the same stream on every platform and run.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// One value derived from a key without keeping state: a pure function of (seed, key),
    /// the shape the last stage's sampler uses for (request seed, token index).
    public static func hash(seed: UInt64, key: UInt64) -> UInt64 {
        var g = SplitMix64(seed: seed ^ (key &* 0xD1B5_4A32_D192_ED03))
        return g.next()
    }
}
