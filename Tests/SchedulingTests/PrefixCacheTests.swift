import Testing
@testable import Scheduling

/// The prefix index: equal prefixes name equal blocks, lookups compare tokens, referenced blocks
/// stay, and eviction takes least recently used leaves first.
@Suite struct PrefixCacheTests {
    func prompt(_ prefix: [Int32], _ tail: [Int32]) -> [Int32] { prefix + tail }
    let shared: [Int32] = Array(1...12)

    @Test func equalPrefixesNameEqualBlocksAndOnlyFullBlocksCount() {
        let c = PrefixCache(blockSize: 4, capacityBlocks: 10)
        let a = c.chain(of: shared + [100, 101])
        let b = c.chain(of: shared + [200, 201, 202, 203])
        #expect(a.count == 3 && b.count == 4)
        #expect(Array(b.prefix(3)) == a)
        #expect(c.chain(of: [2] + Array(shared.dropFirst()))[0] != a[0])
        // A block's name depends on everything before it.
        #expect(c.chain(of: [0, 0, 0, 0] + Array(shared.suffix(8)))[1] != a[1])
    }

    @Test func aLookupFindsTheLongestStoredPrefix() {
        var c = PrefixCache(blockSize: 4, capacityBlocks: 10)
        #expect(c.cachedBlocks(of: shared) == 0)
        let (stored, evicted) = c.insert(shared + [7, 7], count: 3)
        #expect(stored.count == 3 && evicted.isEmpty && c.count == 3)
        #expect(c.cachedBlocks(of: shared + [9, 9, 9, 9, 9]) == 3)
        #expect(c.cachedBlocks(of: Array(shared.prefix(8)) + [0, 0, 0, 0]) == 2)
        #expect(c.cachedBlocks(of: [99] + shared) == 0)
        // Storing again adds nothing new.
        #expect(c.insert(shared, count: 3).stored.isEmpty)
    }

    @Test func referencedBlocksAreNeverEvicted() {
        var c = PrefixCache(blockSize: 2, capacityBlocks: 2)
        let first = c.insert([1, 2, 3, 4], count: 2)  // retained by its sequence
        #expect(first.evicted.isEmpty)
        let second = c.insert([5, 6], count: 1)
        #expect(second.evicted.isEmpty && c.count == 3, "over capacity, but every block is in use")
        c.release(first.stored)
        let third = c.insert([7, 8], count: 1)
        // The leaf [3, 4] goes before its parent [1, 2]; then [1, 2] itself.
        #expect(third.evicted == c.chain(of: [1, 2, 3, 4]).reversed())
        #expect(c.cachedBlocks(of: [5, 6, 0]) == 1 && c.cachedBlocks(of: [1, 2, 3, 4]) == 0)
    }

    @Test func leastRecentlyUsedGoesFirst() {
        var c = PrefixCache(blockSize: 2, capacityBlocks: 2)
        let a = c.insert([1, 1], count: 1).stored
        let b = c.insert([2, 2], count: 1).stored
        c.release(a); c.release(b)
        c.retain(a); c.release(a)  // a used again: b is older
        let d = c.insert([3, 3], count: 1)
        #expect(d.evicted == b)
    }

    @Test func aHashCollisionCanOnlyMiss() {
        var c = PrefixCache(blockSize: 2, capacityBlocks: 4)
        _ = c.insert([1, 2], count: 1)
        // Same name would need a collision; simulate one by comparing tokens: a different prompt
        // whose first block has other tokens never matches, whatever its name.
        #expect(c.cachedBlocks(of: [1, 3, 5]) == 0)
        c.removeAll()
        #expect(c.count == 0 && c.cachedBlocks(of: [1, 2, 3]) == 0)
    }
}
