import Foundation
import GGUF
import Kernels
import Logging

/// Moves a layer range's matrices (and the output head) out of the file mapping into one
/// anonymous arena on 2 MiB huge pages (`PackedArena`): the same row-major bytes, read through
/// far fewer TLB entries — the 170 MB Q8_0 head of Gemma 3 270M streams at 31 GB/s from there
/// against 23 GB/s from the 4 KiB pages of the mapping. The mapped pages are then released from
/// the resident set, so a stage still holds about one copy of its weights. Q5_0, Q8_0, Q4_K and Q6_K
/// matrices are also packed for single-row products (`PackedWeights`, AVX-512 VNNI), the one extra
/// copy (237 MB on Gemma 3 270M, 172 MB of it the head; made only if it fits as below, else the
/// row-major copy alone). `PIPESERVE_PACK=off` leaves everything in the mapping, and so does a stage whose
/// arena would take more than half the memory the kernel reports available: the copy is
/// anonymous memory, which (unlike the mapping's page cache) cannot be dropped under pressure or
/// shared by two processes mapping the same file.
enum WeightArena {
    /// Whether an arena of `bytes` may be made with `available` bytes of memory available
    /// (`MemAvailable`; nil when unknown: allowed).
    static func fits(bytes: Int, available: Int?) -> Bool {
        guard let available else { return true }
        return bytes <= available / 2
    }

    /// `MemAvailable` of /proc/meminfo in bytes, nil if it cannot be read.
    static func memoryAvailable() -> Int? {
        guard let text = try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("MemAvailable:") {
            let fields = line.split(separator: " ")
            if fields.count >= 2, let kb = Int(fields[1]) { return kb * 1024 }
        }
        return nil
    }

    /// Where each matrix goes in the arena: its row-major copy, and its packed copy when `pack`.
    struct Slot { var layer: Int?; var path: WritableKeyPath<LayerWeights, WeightMatrix>?; var copyAt: Int; var packAt: Int? }

    /// The arena's layout: first what a decode step reads, in the order it reads it (each
    /// layer's matrices, then the head; the packed copy where there is one, else the row-major
    /// one), then the row-major copies of the packed matrices (prefill and batches). Decode then
    /// streams one contiguous range, and the hardware prefetcher runs on from one matrix into the
    /// next instead of starting again behind every row-major copy.
    static func layout(layers: [LayerWeights], head: WeightMatrix?, pack: Bool) -> (slots: [Slot], bytes: Int) {
        var slots: [Slot] = []
        var total = 0
        func reserve(_ n: Int) -> Int {
            let at = total
            total += (n + 63) / 64 * 64
            return at
        }
        var laterCopies: [(slot: Int, bytes: Int)] = []   // row-major copies of packed matrices
        func plan(_ m: WeightMatrix, layer: Int?, path: WritableKeyPath<LayerWeights, WeightMatrix>?) {
            let copyBytes = m.rows * m.rowBytes
            var packed: Int?
            if pack, PackedWeights.preferred(m.format, k: m.cols) {
                packed = PackedWeights.byteCount(format: m.format, k: m.cols, rows: m.rows)
            }
            if let packed {
                laterCopies.append((slots.count, copyBytes))
                slots.append(Slot(layer: layer, path: path, copyAt: 0, packAt: reserve(packed)))
            } else {
                slots.append(Slot(layer: layer, path: path, copyAt: reserve(copyBytes), packAt: nil))
            }
        }
        for (i, layer) in layers.enumerated() {
            for path in LayerWeights.matrices { plan(layer[keyPath: path], layer: i, path: path) }
        }
        if let h = head { plan(h, layer: nil, path: nil) }
        for c in laterCopies { slots[c.slot].copyAt = reserve(c.bytes) }
        return (slots, total)
    }

    /// Moves and packs in place; returns the arena's bytes (0 when nothing was moved). When the
    /// copies and the packed copies together would take over half the available memory, only
    /// the copies are made (packing the Q8_0 matrices doubles them); when even those would, none.
    @discardableResult
    static func place(layers: inout [LayerWeights], head: inout WeightMatrix?, file: GGUFFile, logger: Logger,
                      available: Int? = memoryAvailable()) -> Int {
        guard PackedArena.preferred else { return 0 }
        var (slots, total) = layout(layers: layers, head: head, pack: true)
        guard total > 0 else { return 0 }
        if !fits(bytes: total, available: available) {
            let unpacked = layout(layers: layers, head: head, pack: false)
            logger.notice("weights are not packed for decode: the packed copies would take over half the available memory",
                          metadata: ["arena.bytes": "\(total)", "arena.bytes.unpacked": "\(unpacked.bytes)",
                                     "memory.available": "\(available ?? 0)"])
            (slots, total) = unpacked
        }
        guard fits(bytes: total, available: available) else {
            logger.notice("weights stay in the mapped file: a huge-page copy would take over half the available memory",
                          metadata: ["arena.bytes": "\(total)", "memory.available": "\(available ?? 0)"])
            return 0
        }
        guard let arena = PackedArena(byteCount: total) else {
            logger.warning("no memory for the weight arena; reading the mapped file", metadata: ["arena.bytes": "\(total)"])
            return 0
        }
        func placed(_ m: WeightMatrix, _ slot: Slot) -> WeightMatrix {
            var m = m
            if let copy = arena.copy(m.base, count: m.rows * m.rowBytes, offset: slot.copyAt) {
                if let info = file.tensorInfo(m.name) { file.releaseResidentPages(info) }
                m.base = copy
                m.arena = arena
            }
            // Packed from the copy, so the mapped pages are read once.
            if let at = slot.packAt {
                m.packed = PackedWeights(format: m.format, weights: m.base, rowBytes: m.rowBytes, k: m.cols, rows: m.rows,
                                         arena: arena, offset: at)
            }
            return m
        }
        for slot in slots {
            if let i = slot.layer, let path = slot.path {
                layers[i][keyPath: path] = placed(layers[i][keyPath: path], slot)
            } else if let h = head {
                head = placed(h, slot)
            }
        }
        logger.debug("weights moved to a huge-page arena", metadata: [
            "arena.matrices": "\(slots.count)", "arena.bytes": "\(total)",
            "arena.packed": "\(slots.filter { $0.packAt != nil }.count)",
        ])
        return total
    }
}
