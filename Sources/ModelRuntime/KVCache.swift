/// The keys and values of one sequence for a stage's layers, position-indexed and growing as the
/// sequence grows (f32, exactly what attention reads). Each layer's K and V are
/// `capacity × kvDim` floats; positions [0, length) are valid.
final class KVCache {
    let layerCount: Int
    let kvDim: Int
    private(set) var capacity: Int
    /// Number of positions held.
    private(set) var length: Int = 0
    private(set) var keys: [UnsafeMutablePointer<Float>]
    private(set) var values: [UnsafeMutablePointer<Float>]

    init(layerCount: Int, kvDim: Int, initialCapacity: Int = 64) {
        self.layerCount = layerCount
        self.kvDim = kvDim
        self.capacity = max(1, initialCapacity)
        keys = (0..<layerCount).map { _ in .allocate(capacity: max(1, initialCapacity) * kvDim) }
        values = (0..<layerCount).map { _ in .allocate(capacity: max(1, initialCapacity) * kvDim) }
    }

    deinit {
        keys.forEach { $0.deallocate() }
        values.forEach { $0.deallocate() }
    }

    /// Bytes held (for KV accounting).
    var bytes: Int { 2 * layerCount * capacity * kvDim * MemoryLayout<Float>.size }

    /// Makes room for positions up to `newLength` (exclusive) and sets the length.
    func resize(to newLength: Int) {
        if newLength > capacity {
            var cap = capacity
            while cap < newLength { cap *= 2 }
            for l in 0..<layerCount {
                keys[l] = grow(keys[l], cap)
                values[l] = grow(values[l], cap)
            }
            capacity = cap
        }
        length = newLength
    }

    private func grow(_ p: UnsafeMutablePointer<Float>, _ cap: Int) -> UnsafeMutablePointer<Float> {
        let n = UnsafeMutablePointer<Float>.allocate(capacity: cap * kvDim)
        n.update(from: p, count: length * kvDim)
        p.deallocate()
        return n
    }
}
