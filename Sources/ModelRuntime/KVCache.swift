/// The keys and values of one sequence for a stage's layers (f32, exactly what attention reads).
/// Each layer's K and V are `capacity(layer) × kvDim` floats, position p at row
/// `p % capacity(layer)`:
/// - a global layer (no window) keeps every position, rows = positions, grown by doubling;
/// - a sliding-window layer of window W is a ring that holds only what attention still reads:
///   the last W - 1 positions before a chunk plus the chunk's own C rows (every row of a chunk is
///   written before any is read), so its capacity is at most W + C - 1, and it shrinks back to
///   that bound when a later chunk is smaller (W for one-token decode steps).
final class KVCache {
    let kvDim: Int
    /// Sliding window of each layer (nil: global).
    let windows: [Int?]
    /// Rows held per layer.
    private(set) var capacities: [Int]
    /// Number of positions written: [0, length) have been stored (a ring holds only its tail).
    private(set) var length: Int = 0
    private(set) var keys: [UnsafeMutablePointer<Float>]
    private(set) var values: [UnsafeMutablePointer<Float>]

    init(kvDim: Int, windows: [Int?], initialCapacity: Int = 64) {
        self.kvDim = kvDim
        self.windows = windows.map { $0.map { max(1, $0) } }
        capacities = self.windows.map { w in max(1, min(initialCapacity, w ?? initialCapacity)) }
        keys = capacities.map { .allocate(capacity: $0 * kvDim) }
        values = capacities.map { .allocate(capacity: $0 * kvDim) }
    }

    deinit {
        keys.forEach { $0.deallocate() }
        values.forEach { $0.deallocate() }
    }

    var layerCount: Int { windows.count }

    /// Bytes held (for KV accounting).
    var bytes: Int { 2 * capacities.reduce(0, +) * kvDim * MemoryLayout<Float>.size }

    /// Oldest position a layer still holds.
    func oldestHeld(layer l: Int) -> Int { windows[l] == nil ? 0 : max(0, length - capacities[l]) }

    /// Whether a chunk may start at `start` (≤ length): every layer still holds the positions its
    /// first query reads. False only for a rewind past what a sliding layer has dropped.
    func canStart(at start: Int) -> Bool {
        guard start <= length else { return false }
        for l in 0..<layerCount {
            if let w = windows[l], max(0, start - w + 1) < oldestHeld(layer: l) { return false }
        }
        return true
    }

    /// Makes room for a chunk of `count` positions from `start` (`canStart(at: start)` must
    /// hold) and sets the length to start + count. Positions before `start` that attention still
    /// reads are kept.
    func prepare(start: Int, count: Int) {
        let end = start + count
        for l in 0..<layerCount {
            let cap = capacities[l]
            if let w = windows[l] {
                // A chunk reads back to max(0, start - w + 1): that span must fit without collision.
                let bound = w + count - 1
                let need = min(end, bound)
                if need > cap {
                    relayout(l, keep: max(0, start - w + 1)..<start, to: min(max(2 * cap, need), bound))
                } else if cap > bound {
                    relayout(l, keep: max(0, start - w + 1)..<start, to: bound)
                }
            } else if end > cap {
                var c = cap
                while c < end { c *= 2 }
                relayout(l, keep: 0..<start, to: c)
            }
        }
        length = end
    }

    /// Fills an empty cache with positions [0, length) from `source(layer, position)` (K and V
    /// rows of `kvDim` floats): every position for a global layer, the last min(length, window)
    /// for a sliding one — all that a chunk starting at `length` reads.
    func restore(length n: Int, from source: (Int, Int) -> (key: UnsafePointer<Float>, value: UnsafePointer<Float>)) {
        precondition(length == 0 && n >= 0, "restore needs an empty cache")
        for l in 0..<layerCount {
            let cap: Int
            if let w = windows[l] {
                cap = max(1, min(n, w))
            } else {
                var c = capacities[l]
                while c < n { c *= 2 }
                cap = c
            }
            if cap != capacities[l] { relayout(l, keep: 0..<0, to: cap) }
            for p in max(0, n - cap)..<n {
                let (k, v) = source(l, p)
                let r = (p % cap) * kvDim
                (keys[l] + r).update(from: k, count: kvDim)
                (values[l] + r).update(from: v, count: kvDim)
            }
        }
        length = n
    }

    /// Whether every layer still holds `position` (< length).
    func holds(position p: Int) -> Bool {
        guard p >= 0, p < length else { return false }
        return (0..<layerCount).allSatisfy { p >= oldestHeld(layer: $0) }
    }

    /// K and V rows of `position` in layer `l`.
    func rows(layer l: Int, position p: Int) -> (key: UnsafeMutablePointer<Float>, value: UnsafeMutablePointer<Float>) {
        let r = (p % capacities[l]) * kvDim
        return (keys[l] + r, values[l] + r)
    }

    /// Reallocates layer `l` with `newCapacity` rows, copying the positions in `keep`.
    private func relayout(_ l: Int, keep: Range<Int>, to newCapacity: Int) {
        let old = capacities[l]
        let k = UnsafeMutablePointer<Float>.allocate(capacity: newCapacity * kvDim)
        let v = UnsafeMutablePointer<Float>.allocate(capacity: newCapacity * kvDim)
        if windows[l] == nil {
            k.update(from: keys[l], count: keep.count * kvDim)
            v.update(from: values[l], count: keep.count * kvDim)
        } else {
            for p in keep {
                k.advanced(by: (p % newCapacity) * kvDim).update(from: keys[l] + (p % old) * kvDim, count: kvDim)
                v.advanced(by: (p % newCapacity) * kvDim).update(from: values[l] + (p % old) * kvDim, count: kvDim)
            }
        }
        keys[l].deallocate()
        values[l].deallocate()
        keys[l] = k
        values[l] = v
        capacities[l] = newCapacity
    }
}
