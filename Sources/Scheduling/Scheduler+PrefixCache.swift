import ServingTypes

extension Scheduler {
    /// Whether `n` more KV positions fit beside the running sequences and the cached blocks.
    func fits(_ n: Int) -> Bool {
        kvUsed + kvTokensCached + n <= configuration.kvCacheTokens
    }

    /// Evicts unreferenced cached blocks until `n` more positions fit; false if they cannot.
    mutating func makeRoom(_ n: Int) -> Bool {
        while !fits(n) {
            guard let victim = prefixCache?.evictOne() else { return false }
            pendingDrops.append(victim)
        }
        return true
    }

    /// The cached blocks a sequence with these tokens can start from (never its last position),
    /// retained. `chain` is the prefix cache's ``PrefixCache/chain(of:)`` of all tokens but the last.
    mutating func lookUpPrefix(_ tokens: [Int32], chain: [PrefixCache.BlockName]) -> [PrefixCache.BlockName] {
        guard let cache = prefixCache, tokens.count > 1 else { return [] }
        let hit = cache.cachedPrefix(of: Array(tokens.dropLast()), chain: chain)
        prefixCache?.retain(hit)
        return hit
    }

    /// The restore list of a sequence's first chunk after admission (releasing the index's hold:
    /// the stages copy the blocks before any later drop reaches them).
    mutating func takeRestore(_ s: inout SequenceState) -> [BlockRef] {
        guard let cache = prefixCache, !s.restoreBlocks.isEmpty else { return [] }
        let b = cache.blockSize
        let refs = s.restoreBlocks.enumerated().map { BlockRef(name: $1, startPosition: $0 * b, count: b) }
        prefixCache?.release(s.restoreBlocks)
        s.restoreBlocks = []
        return refs
    }

    /// The blocks whose last position falls in `start ..< end` of `tokens`, stored where room is
    /// left (evicting least recently used blocks); a block already cached or without its cached
    /// parent is skipped (the stages keep only what the index names).
    mutating func storeBlocks(of tokens: [Int32], from start: Int, to end: Int) -> [BlockRef] {
        guard let cache = prefixCache, end > start else { return [] }
        let b = cache.blockSize
        let first = start / b, last = end / b  // blocks first ..< last end in (start, end]
        guard first < last else { return [] }
        let chain = cache.chain(of: tokens[0 ..< last * b])  // named once for all of them
        var refs: [BlockRef] = []
        for i in first ..< last {
            guard prefixCache?.canInsert(block: i, chain: chain) == true else { continue }
            // The parent must survive making room, or the block could not be inserted.
            let parent = chain[max(0, i - 1) ..< i]
            prefixCache?.retain(parent)
            let room = makeRoom(b)
            prefixCache?.release(parent)
            if room, let name = prefixCache?.insert(block: i, of: tokens, chain: chain) {
                refs.append(BlockRef(name: name, startPosition: i * b, count: b))
            }
        }
        return refs
    }

    /// A batch was lost or failed part-way through the ring: the blocks it stored may be missing
    /// on some stages, so the index forgets them (and what extends them) and the stages drop
    /// them; blocks it restored are forgotten too when `restored` (a stage said one was missing).
    public mutating func forgetBlocks(of batch: PlannedBatch, restored: Bool = false) {
        guard prefixCache != nil else { return }
        var names = batch.entries.flatMap { $0.storeBlocks.map(\.name) }
        if restored { names += batch.entries.flatMap { $0.restoreBlocks.map(\.name) } }
        pendingDrops += prefixCache?.remove(names) ?? []
    }
}
