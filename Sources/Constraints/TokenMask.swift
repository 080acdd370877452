/// A set of token ids as a bit set: the tokens a sampler may choose from.
public struct TokenMask: Sendable, Equatable {
    public private(set) var words: [UInt64]
    /// Vocabulary size.
    public let count: Int

    public init(count: Int) {
        self.count = count
        words = [UInt64](repeating: 0, count: (count + 63) / 64)
    }

    @inline(__always)
    public func contains(_ id: Int32) -> Bool {
        guard id >= 0, Int(id) < count else { return false }
        return words[Int(id) >> 6] & (1 << UInt64(id & 63)) != 0
    }

    @inline(__always)
    public mutating func insert(_ id: Int32) {
        guard id >= 0, Int(id) < count else { return }
        words[Int(id) >> 6] |= 1 << UInt64(id & 63)
    }

    @inline(__always)
    public mutating func remove(_ id: Int32) {
        guard id >= 0, Int(id) < count else { return }
        words[Int(id) >> 6] &= ~(1 << UInt64(id & 63))
    }

    mutating func formUnion(words other: [UInt64]) {
        for index in words.indices { words[index] |= other[index] }
    }

    /// Number of allowed tokens.
    public var allowedCount: Int { words.reduce(0) { $0 + $1.nonzeroBitCount } }

    /// The allowed ids, ascending.
    public var allowedTokens: [Int32] {
        var result: [Int32] = []
        for (index, word) in words.enumerated() where word != 0 {
            var bits = word
            while bits != 0 {
                result.append(Int32(index * 64 + bits.trailingZeroBitCount))
                bits &= bits - 1
            }
        }
        return result
    }
}
