import Testing
@testable import Scheduling

/// The prefix index: equal prefixes name equal blocks, lookups compare tokens, a block needs its
/// parent, referenced blocks stay, and eviction takes least recently used leaves first.
@Suite struct PrefixCacheTests {
    let shared: [Int32] = Array(1...12)

    func insertAll(_ c: inout PrefixCache, _ tokens: [Int32], blocks: Int) -> [PrefixCache.BlockName] {
        (0 ..< blocks).compactMap { c.insert(block: $0, of: tokens) }
    }

    @Test func equalPrefixesNameEqualBlocksAndOnlyFullBlocksCount() {
        let c = PrefixCache(blockSize: 4)
        let a = c.chain(of: shared + [100, 101])
        let b = c.chain(of: shared + [200, 201, 202, 203])
        #expect(a.count == 3 && b.count == 4)
        #expect(Array(b.prefix(3)) == a)
        #expect(c.chain(of: [2] + Array(shared.dropFirst()))[0] != a[0])
        // A block's name depends on everything before it.
        #expect(c.chain(of: [0, 0, 0, 0] + Array(shared.suffix(8)))[1] != a[1])
    }

    @Test func aLookupFindsTheLongestStoredPrefix() {
        var c = PrefixCache(blockSize: 4)
        #expect(c.cachedPrefix(of: shared).isEmpty)
        let stored = insertAll(&c, shared + [7, 7], blocks: 3)
        #expect(stored == c.chain(of: shared) && c.count == 3 && c.tokenCount == 12)
        #expect(c.cachedPrefix(of: shared + [9, 9, 9, 9, 9]) == stored)
        #expect(c.cachedPrefix(of: Array(shared.prefix(8)) + [0, 0, 0, 0]).count == 2)
        #expect(c.cachedPrefix(of: [99] + shared).isEmpty)
        // Storing again adds nothing new.
        #expect(insertAll(&c, shared, blocks: 3).isEmpty)
    }

    @Test func aBlockWithoutItsParentIsNotStored() {
        var c = PrefixCache(blockSize: 2)
        #expect(c.insert(block: 1, of: [1, 2, 3, 4]) == nil)
        #expect(c.insert(block: 0, of: [1, 2, 3, 4]) != nil)
        #expect(c.insert(block: 1, of: [1, 2, 3, 4]) != nil)
        #expect(c.insert(block: 2, of: [1, 2, 3, 4]) == nil, "no tokens for block 2")
    }

    @Test func referencedBlocksAreNeverEvictedAndLeavesGoFirst() {
        var c = PrefixCache(blockSize: 2)
        let first = insertAll(&c, [1, 2, 3, 4], blocks: 2)
        let other = insertAll(&c, [5, 6], blocks: 1)
        c.retain(other)
        // The leaf [3, 4] goes before its parent [1, 2]; [5, 6] is in use.
        #expect(c.evictOne() == first[1])
        #expect(c.evictOne() == first[0])
        #expect(c.evictOne() == nil)
        c.release(other)
        #expect(c.evictOne() == other[0] && c.count == 0)
    }

    @Test func leastRecentlyUsedGoesFirst() {
        var c = PrefixCache(blockSize: 2)
        let a = insertAll(&c, [1, 1], blocks: 1)
        let b = insertAll(&c, [2, 2], blocks: 1)
        c.retain(a); c.release(a)  // a used again: b is older
        #expect(c.evictOne() == b[0])
    }

    @Test func removingABlockRemovesWhatExtendsIt() {
        var c = PrefixCache(blockSize: 2)
        let chain = insertAll(&c, [1, 2, 3, 4, 5, 6], blocks: 3)
        let side = insertAll(&c, [1, 2, 9, 9], blocks: 2)  // shares block 0
        #expect(side.count == 1)
        #expect(c.remove([chain[1]]) == [chain[1], chain[2]].sorted())
        #expect(c.cachedPrefix(of: [1, 2, 9, 9, 0]).count == 2)
        // The parent lost a child: once unreferenced and childless it can go again.
        #expect(c.evictOne() == side[0])
        #expect(c.evictOne() == chain[0])
    }

    @Test func aHashCollisionCanOnlyMiss() {
        var c = PrefixCache(blockSize: 2)
        _ = c.insert(block: 0, of: [1, 2])
        // A different prompt whose first block has other tokens never matches, whatever its name.
        #expect(c.cachedPrefix(of: [1, 3, 5]).isEmpty)
        c.removeAll()
        #expect(c.count == 0 && c.cachedPrefix(of: [1, 2, 3]).isEmpty)
    }
}
