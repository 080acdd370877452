import CKernels

/// The cos/sin of every token row's rotary angles for one forward pass, one table per distinct
/// RoPE frequency set among the layer range (Gemma 3 has two: local and global layers). Built once
/// per forward and read by every layer's q and k, instead of every layer recomputing them per row.
final class RotaryTables {
    private var sets: [[Double]] = []
    private var tables: [UnsafeMutablePointer<Float>] = []
    private var capacities: [Int] = []
    /// Table index of each local layer.
    private var layerTable: [Int] = []
    private(set) var rowFloats = 0

    /// Tables for `styles` (the range's layers, in order) at `positions`, `ropeDimensions` rotated.
    func prepare(styles: ArraySlice<LayerStyle>, positions: [Int], ropeDimensions: Int) {
        let half = ropeDimensions / 2
        rowFloats = 2 * half
        sets.removeAll(keepingCapacity: true)
        layerTable.removeAll(keepingCapacity: true)
        for style in styles {
            let freqs = style.ropeInverseFrequencies
            if let i = sets.firstIndex(of: freqs) { layerTable.append(i); continue }
            let i = sets.count
            sets.append(freqs)
            layerTable.append(i)
            let table = buffer(i, positions.count * rowFloats)
            freqs.withUnsafeBufferPointer { f in
                for (r, p) in positions.enumerated() {
                    ps_rope_table(f.baseAddress!, Int64(half), Double(p), table + r * rowFloats)
                }
            }
        }
    }

    /// The table of local layer `li`: row r's cos and sin at `table + r * rowFloats`.
    func table(layer li: Int) -> UnsafePointer<Float> { UnsafePointer(tables[layerTable[li]]) }

    private func buffer(_ i: Int, _ count: Int) -> UnsafeMutablePointer<Float> {
        if i == tables.count {
            tables.append(.allocate(capacity: max(count, 16)))
            capacities.append(max(count, 16))
        } else if capacities[i] < count {
            tables[i].deallocate()
            tables[i] = .allocate(capacity: count)
            capacities[i] = count
        }
        return tables[i]
    }

    deinit { tables.forEach { $0.deallocate() } }
}
