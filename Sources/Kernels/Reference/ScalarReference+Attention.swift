extension ScalarReference {
    /// One query token's attention, straight from the definition in Double with a two-pass
    /// softmax: out[h] = Σ_p softmax_p(softcap(scale · q_h · k_p)) · v_p over positions
    /// `positions`, head h reading kv head h / (heads / kvHeads). `keyRow(p)` and `valueRow(p)`
    /// give position p's rows (kvHeads × headDim floats). softcap > 0 applies cap·tanh(s/cap).
    /// The reference the attention kernel's tests trust; it shares no code with it.
    public static func attention(query q: [Float], keyRow: (Int) -> [Float], valueRow: (Int) -> [Float],
                                 positions: Range<Int>, heads: Int, kvHeads: Int, headDim hd: Int,
                                 scale: Float, softcap: Float) -> [Double] {
        let group = max(1, heads / max(1, kvHeads))
        var out = [Double](repeating: 0, count: heads * hd)
        guard !positions.isEmpty else { return out }
        let keys = positions.map(keyRow), values = positions.map(valueRow)
        for h in 0..<heads {
            let g = h / group
            var scores = keys.map { k -> Double in
                var d = 0.0
                for i in 0..<hd { d += Double(q[h * hd + i]) * Double(k[g * hd + i]) }
                let s = Double(scale) * d
                return softcap > 0 ? Double(softcap) * tanh(s / Double(softcap)) : s
            }
            let m = scores.max()!
            scores = scores.map { exp($0 - m) }
            let sum = scores.reduce(0, +)
            for (j, v) in values.enumerated() {
                for i in 0..<hd { out[h * hd + i] += scores[j] / sum * Double(v[g * hd + i]) }
            }
        }
        return out
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
