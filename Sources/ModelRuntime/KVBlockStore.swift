/// A stage's prefix-cache blocks: copies of the KV of `count` consecutive positions of some
/// sequence, for every layer of the stage, under the name the coordinator gave them. A later
/// sequence with the same prefix starts from copies of these instead of computing them (the KV
/// of a position depends on the tokens up to it only, so the copy is exactly what computing
/// would give). The coordinator's index decides what is stored and dropped; this only holds.
final class KVBlockStore {
    struct Block {
        let startPosition: Int
        let count: Int
        /// Layer-major: for each layer, `count` K rows then `count` V rows of `kvDim` floats.
        let data: UnsafeMutablePointer<Float>
    }

    let kvDim: Int
    let layerCount: Int
    private var blocks: [UInt64: Block] = [:]

    init(kvDim: Int, layerCount: Int) {
        self.kvDim = kvDim
        self.layerCount = layerCount
    }

    deinit { removeAll() }

    var count: Int { blocks.count }
    var bytes: Int { blocks.values.reduce(0) { $0 + 2 * layerCount * $1.count * kvDim * MemoryLayout<Float>.size } }
    func contains(_ name: UInt64) -> Bool { blocks[name] != nil }
    func block(_ name: UInt64) -> Block? { blocks[name] }

    /// Copies positions [start, start + count) of `cache`, which must hold them all. Storing a
    /// name again keeps the first copy (equal names mean equal prefixes, so equal KV).
    func store(_ name: UInt64, from cache: KVCache, start: Int, count: Int) -> Bool {
        guard blocks[name] == nil else { return true }
        guard count >= 1, cache.holds(position: start), cache.holds(position: start + count - 1) else { return false }
        let data = UnsafeMutablePointer<Float>.allocate(capacity: 2 * layerCount * count * kvDim)
        for l in 0..<layerCount {
            let k = data + 2 * l * count * kvDim
            let v = k + count * kvDim
            for i in 0..<count {
                let rows = cache.rows(layer: l, position: start + i)
                (k + i * kvDim).update(from: rows.key, count: kvDim)
                (v + i * kvDim).update(from: rows.value, count: kvDim)
            }
        }
        blocks[name] = Block(startPosition: start, count: count, data: data)
        return true
    }

    /// K and V rows of `position` (inside the block) of layer `l`.
    func rows(_ b: Block, layer l: Int, position p: Int) -> (key: UnsafePointer<Float>, value: UnsafePointer<Float>) {
        let k = b.data + 2 * l * b.count * kvDim
        let i = p - b.startPosition
        return (UnsafePointer(k + i * kvDim), UnsafePointer(k + (b.count + i) * kvDim))
    }

    func drop(_ names: [UInt64]) {
        for n in names { blocks.removeValue(forKey: n)?.data.deallocate() }
    }

    func removeAll() {
        for b in blocks.values { b.data.deallocate() }
        blocks.removeAll()
    }
}
