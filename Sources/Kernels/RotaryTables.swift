import CKernels

/// The cos/sin of every token row's rotary angles for one forward pass, one table per distinct
/// RoPE frequency set among a layer range (Gemma 3 has two: local and global layers). Built once
/// per forward and read by every layer's q and k, instead of every layer recomputing them per row.
public final class RotaryTables {
    private var sets: [[Double]] = []
    private var tables: [UnsafeMutablePointer<Float>] = []
    private var capacities: [Int] = []
    /// Table index of each local layer.
    private var layerTable: [Int] = []
    /// Floats per token row of a table: the cos of each rotated pair, then the sin.
    public private(set) var rowFloats = 0

    public init() {}

    /// Tables for layers whose inverse RoPE frequencies are `layerFrequencies` (the range's layers,
    /// in order), at `positions`, `ropeDimensions` dimensions rotated. Angles are computed in double.
    public func prepare(layerFrequencies: some Sequence<[Double]>, positions: [Int], ropeDimensions: Int) {
        let half = ropeDimensions / 2
        rowFloats = 2 * half
        sets.removeAll(keepingCapacity: true)
        layerTable.removeAll(keepingCapacity: true)
        for freqs in layerFrequencies {
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
    public func table(layer li: Int) -> UnsafePointer<Float> { UnsafePointer(tables[layerTable[li]]) }

    /// Rotates the first `rotated` dimensions of `heads` heads of `headDim` floats (head h at
    /// `x + h * headDim`) by one row of a table (`angles`, from `table(layer:)`). `neox` pairs
    /// dimensions (i, i + rotated/2) (GPT-NeoX, Gemma, Qwen2), otherwise (2i, 2i + 1) (Llama).
    @inlinable
    public static func rotate(_ x: UnsafeMutablePointer<Float>, heads: Int, headDim: Int, rotated: Int,
                              angles: UnsafePointer<Float>, neox: Bool) {
        ps_rope_apply(x, Int64(heads), Int64(headDim), Int64(rotated), angles, neox ? 1 : 0)
    }

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
