import Kernels
import Logging

/// Packs a layer range's Q5_0 and Q8_0 matrices (and the output head) into one huge-page arena in
/// the interleaved layout of `PackedWeights`, where this CPU runs that layout faster (AVX-512
/// VNNI; `PIPESERVE_PACK=off` keeps the GGUF rows only). The copy serves single-row products
/// (decode); batches keep reading the mapped rows, so the packed matrices' bytes are held twice
/// (anonymous memory besides the file's page cache: +213 MB on Gemma 3 270M).
enum DecodePacking {
    /// Packs in place; returns the bytes packed (0 when nothing was).
    @discardableResult
    static func pack(layers: inout [LayerWeights], head: inout WeightMatrix?, logger: Logger) -> Int {
        var slots: [(layer: Int?, path: WritableKeyPath<LayerWeights, WeightMatrix>?, offset: Int)] = []
        var total = 0
        func reserve(_ m: WeightMatrix) -> Int? {
            guard let format = WeightFormat(rawValue: m.type), PackedWeights.preferred(format),
                  let n = PackedWeights.byteCount(format: format, k: m.cols, rows: m.rows) else { return nil }
            let at = total
            total += (n + 63) / 64 * 64
            return at
        }
        for (i, layer) in layers.enumerated() {
            for path in LayerWeights.matrices {
                if let at = reserve(layer[keyPath: path]) { slots.append((i, path, at)) }
            }
        }
        if let h = head, let at = reserve(h) { slots.append((nil, nil, at)) }
        guard total > 0, let arena = PackedArena(byteCount: total) else { return 0 }
        func packed(_ m: WeightMatrix, at offset: Int) -> WeightMatrix {
            var m = m
            m.packed = WeightFormat(rawValue: m.type).flatMap {
                PackedWeights(format: $0, weights: m.base, rowBytes: m.rowBytes, k: m.cols, rows: m.rows, arena: arena, offset: offset)
            }
            return m
        }
        for slot in slots {
            if let i = slot.layer, let path = slot.path {
                layers[i][keyPath: path] = packed(layers[i][keyPath: path], at: slot.offset)
            } else if let h = head {
                head = packed(h, at: slot.offset)
            }
        }
        logger.debug("weights packed for decode", metadata: ["packed.matrices": "\(slots.count)", "packed.bytes": "\(total)"])
        return total
    }
}
