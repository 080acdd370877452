/// The coordinator's index of computed KV that the stages keep in fixed-size blocks, so that a
/// shared prompt prefix is computed once. Pure: no I/O; the scheduler tells the stages what it
/// decides (store a block after computing it, start a sequence from blocks, drop blocks).
///
/// A block holds the KV of `blockSize` consecutive positions from a multiple of `blockSize`, for
/// every layer. It is named by a hash chain — hash(parent block's name, its tokens) — so equal
/// prefixes name equal blocks on every stage, and a name says the whole prefix up to it (the KV
/// of a position is a function of the tokens up to it and nothing else). Each block also keeps
/// its tokens and a lookup compares them, so a hash collision can only miss, never serve another
/// prompt's KV.
///
/// A sequence that starts from cached blocks gets a copy of their KV in its own cache, so the
/// index's references only guard blocks between a lookup and the batch that copies them (see
/// ``Scheduler``); unreferenced blocks are evicted least recently used first, a leaf before its
/// parent, so no cached block is ever left without its prefix.
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
    private var blocks: [BlockName: Block] = [:]
    private var clock: UInt64 = 0

    public init(blockSize: Int) {
        self.blockSize = max(1, blockSize)
    }

    /// Blocks held now.
    public var count: Int { blocks.count }
    /// Positions of KV the stages hold for the index (each stage holds its layers' share).
    public var tokenCount: Int { blocks.count * blockSize }
    /// Whether the index holds this block.
    public func contains(_ name: BlockName) -> Bool { blocks[name] != nil }

    /// The names of the full blocks of `tokens`, in order (a partial last block has none).
    public func chain(of tokens: some Collection<Int32>) -> [BlockName] {
        var names: [BlockName] = []
        var parent = Self.root
        var block = tokens.startIndex
        while tokens.distance(from: block, to: tokens.endIndex) >= blockSize {
            let end = tokens.index(block, offsetBy: blockSize)
            let name = Self.name(parent: parent, tokens: tokens[block ..< end])
            names.append(name)
            parent = name.rawValue
            block = end
        }
        return names
    }

    /// The leading cached blocks of `tokens` (their tokens compared, not only names). A prompt's
    /// last position is always computed (it gives the logits), so callers pass the tokens before it.
    public func cachedPrefix(of tokens: [Int32]) -> [BlockName] {
        cachedPrefix(of: tokens, chain: chain(of: tokens))
    }

    /// The same, with `chain` = ``chain(of:)`` of `tokens` already at hand.
    public func cachedPrefix(of tokens: [Int32], chain: [BlockName]) -> [BlockName] {
        var n = 0
        while n < chain.count, let b = blocks[chain[n]],
              b.tokens.elementsEqual(tokens[n * blockSize ..< (n + 1) * blockSize]) {
            n += 1
        }
        return Array(chain.prefix(n))
    }

    /// These blocks must stay until ``release(_:)`` (a sequence will start from them).
    public mutating func retain(_ names: some Sequence<BlockName>) {
        clock += 1
        for n in names where blocks[n] != nil {
            blocks[n]!.references += 1
            blocks[n]!.lastUse = clock
        }
    }

    public mutating func release(_ names: some Sequence<BlockName>) {
        for n in names where blocks[n] != nil { blocks[n]!.references = max(0, blocks[n]!.references - 1) }
    }

    /// Records block `index` of `tokens` (positions index·B ..< (index+1)·B) as stored by the
    /// stages. Returns its name, or nil when it is cached already or its parent is not (a block
    /// without its prefix could never be found).
    public mutating func insert(block index: Int, of tokens: [Int32]) -> BlockName? {
        guard index >= 0, (index + 1) * blockSize <= tokens.count else { return nil }
        return insert(block: index, of: tokens, chain: chain(of: tokens.prefix((index + 1) * blockSize)))
    }

    /// Whether ``insert(block:of:chain:)`` would store block `index`: it is not cached and its
    /// parent is (names only; the insert compares the parent's tokens too).
    public func canInsert(block index: Int, chain: [BlockName]) -> Bool {
        index >= 0 && index < chain.count && blocks[chain[index]] == nil && (index == 0 || blocks[chain[index - 1]] != nil)
    }

    /// The same, with `chain` = ``chain(of:)`` of at least the first index + 1 blocks of `tokens`.
    public mutating func insert(block index: Int, of tokens: [Int32], chain: [BlockName]) -> BlockName? {
        let start = index * blockSize
        guard index >= 0, index < chain.count, start + blockSize <= tokens.count else { return nil }
        let parent: BlockName? = index == 0 ? nil : chain[index - 1]
        if let parent {
            guard let pb = blocks[parent], pb.tokens.elementsEqual(tokens[start - blockSize ..< start]) else { return nil }
        }
        let name = chain[index]
        guard blocks[name] == nil else { return nil }
        clock += 1
        blocks[name] = Block(parent: parent, tokens: Array(tokens[start ..< start + blockSize]), lastUse: clock)
        if let parent { blocks[parent]?.children += 1 }
        return name
    }

    /// Evicts the least recently used unreferenced leaf; nil when every block is in use.
    public mutating func evictOne() -> BlockName? {
        var victim: (BlockName, UInt64)?
        for (name, b) in blocks where b.references == 0 && b.children == 0 {
            if victim == nil || (b.lastUse, name) < (victim!.1, victim!.0) { victim = (name, b.lastUse) }
        }
        guard let name = victim?.0 else { return nil }
        unlink(name)
        return name
    }

    /// Removes these blocks and every block that extends them (a stage may have lost them);
    /// returns all names removed.
    public mutating func remove(_ names: some Sequence<BlockName>) -> [BlockName] {
        var doomed = Set(names.filter { blocks[$0] != nil })
        guard !doomed.isEmpty else { return [] }
        // Descendants: any block whose ancestor chain meets a doomed block.
        var changed = true
        while changed {
            changed = false
            for (name, b) in blocks where !doomed.contains(name) {
                if let p = b.parent, doomed.contains(p) { doomed.insert(name); changed = true }
            }
        }
        for name in doomed {
            if let p = blocks[name]?.parent, !doomed.contains(p) { blocks[p]?.children -= 1 }
        }
        for name in doomed { blocks[name] = nil }
        return doomed.sorted()
    }

    /// Forgets everything (the stages restarted with empty stores).
    public mutating func removeAll() { blocks.removeAll() }

    private mutating func unlink(_ name: BlockName) {
        if let parent = blocks[name]?.parent { blocks[parent]?.children -= 1 }
        blocks[name] = nil
    }

    // MARK: Names

    static let root: UInt64 = 0x5053_4252_4C4F_434B  // "PSBRLOCK"

    static func name(parent: UInt64, tokens: some Sequence<Int32>) -> BlockName {
        var h = parent
        for t in tokens { h = SplitMix64.hash(seed: h, key: UInt64(UInt32(bitPattern: t))) }
        return BlockName(h)
    }
}
