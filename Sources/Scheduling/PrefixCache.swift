/// The coordinator's index of prompt KV that the stages keep in fixed-size blocks, so that a
/// shared prompt prefix is computed once (issue: prefix caching across stages). Pure: no I/O;
/// the engine tells the stages what it decides.
///
/// A block holds the KV of `blockSize` consecutive prompt positions, from a multiple of
/// `blockSize`. It is named by a hash chain — hash(parent block's name, its tokens) — so equal
/// prefixes name equal blocks on every stage, and a name says the whole prefix up to it. Each
/// block also keeps its tokens, and a lookup compares them, so a hash collision can only miss,
/// never serve another prompt's KV.
///
/// Blocks are referenced by the running sequences that started from them (or stored them) and
/// evicted least recently used once unreferenced and the cache is over `capacityBlocks`; evicting
/// a block evicts the blocks that extend it (they could never be reached again).
public struct PrefixCache: Sendable {
    public struct BlockName: Hashable, Sendable, Comparable, CustomStringConvertible {
        public let rawValue: UInt64
        public init(_ rawValue: UInt64) { self.rawValue = rawValue }
        public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }
        public var description: String { String(rawValue, radix: 16) }
    }

    struct Block {
        var parent: BlockName?
        var tokens: [Int32]
        var references = 0
        var lastUse: UInt64 = 0
        var children = 0
    }

    public let blockSize: Int
    public let capacityBlocks: Int
    private var blocks: [BlockName: Block] = [:]
    private var clock: UInt64 = 0

    public init(blockSize: Int, capacityBlocks: Int) {
        self.blockSize = max(1, blockSize)
        self.capacityBlocks = max(0, capacityBlocks)
    }

    /// Blocks held now.
    public var count: Int { blocks.count }

    /// The names of the full blocks of `tokens`, in order (a partial last block has none).
    public func chain(of tokens: [Int32]) -> [BlockName] {
        var names: [BlockName] = []
        var parent: UInt64 = 0x5053_4252_4C4F_434B  // "PSBRLOCK": the root
        var start = 0
        while start + blockSize <= tokens.count {
            var h = parent
            for t in tokens[start ..< start + blockSize] {
                h = SplitMix64.hash(seed: h, key: UInt64(UInt32(bitPattern: t)))
            }
            names.append(BlockName(h))
            parent = h
            start += blockSize
        }
        return names
    }

    /// How many leading blocks of `tokens` are cached (their tokens compared, not only names).
    /// A prompt's last position is always computed (it gives the logits), so callers pass the
    /// prompt without its last token.
    public func cachedBlocks(of tokens: [Int32]) -> Int {
        let names = chain(of: tokens)
        var n = 0
        for (i, name) in names.enumerated() {
            guard let b = blocks[name], b.tokens.elementsEqual(tokens[i * blockSize ..< (i + 1) * blockSize]) else { break }
            n += 1
        }
        return n
    }

    /// A sequence starts from (or has stored) these blocks: they stay until `release`.
    public mutating func retain(_ names: some Sequence<BlockName>) {
        clock += 1
        for n in names where blocks[n] != nil {
            blocks[n]!.references += 1
            blocks[n]!.lastUse = clock
        }
    }

    /// The sequence that retained these blocks is gone.
    public mutating func release(_ names: some Sequence<BlockName>) {
        for n in names where blocks[n] != nil { blocks[n]!.references = max(0, blocks[n]!.references - 1) }
    }

    /// Records the first `count` full blocks of `tokens` as stored by the stages (the ones not
    /// cached yet are new), retained by the sequence that computed them. Returns the blocks to
    /// evict to stay within the capacity; the stages must drop those.
    public mutating func insert(_ tokens: [Int32], count: Int) -> (stored: [BlockName], evicted: [BlockName]) {
        let names = Array(chain(of: tokens).prefix(count))
        var stored: [BlockName] = []
        for (i, name) in names.enumerated() where blocks[name] == nil {
            let parent = i == 0 ? nil : names[i - 1]
            blocks[name] = Block(parent: parent, tokens: Array(tokens[i * blockSize ..< (i + 1) * blockSize]))
            if let parent { blocks[parent]?.children += 1 }
            stored.append(name)
        }
        retain(stored)
        return (stored, evictOverCapacity())
    }

    /// Forgets everything (the stages restarted with empty caches).
    public mutating func removeAll() { blocks.removeAll() }

    /// Least recently used unreferenced leaves first, until within capacity (or nothing is
    /// evictable). A leaf goes first so no cached block is left without its parent.
    private mutating func evictOverCapacity() -> [BlockName] {
        var evicted: [BlockName] = []
        while blocks.count > capacityBlocks {
            guard let victim = blocks.filter({ $0.value.references == 0 && $0.value.children == 0 })
                .min(by: { ($0.value.lastUse, $0.key) < ($1.value.lastUse, $1.key) })?.key else { break }
            if let parent = blocks[victim]?.parent { blocks[parent]?.children -= 1 }
            blocks[victim] = nil
            evicted.append(victim)
        }
        return evicted
    }
}
