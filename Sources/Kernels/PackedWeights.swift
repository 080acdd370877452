import CKernels

/// Memory for weights: one anonymous region on 2 MiB boundaries, marked for transparent huge
/// pages (streaming weights through 4 KiB pages costs TLB misses: the 170 MB Q8_0 head of Gemma 3
/// 270M reads at 23 GB/s from the file mapping, 31 from huge pages). A model puts all its
/// matrices, copied or packed, into one arena, so small ones do not each round up to a huge page.
public final class PackedArena: @unchecked Sendable {
    // Sendable: the region is written while packing, before the model is shared, then only read.
    public let byteCount: Int
    let base: UnsafeMutableRawPointer

    /// nil if the memory cannot be had.
    public init?(byteCount: Int) {
        guard byteCount > 0, let p = ps_packed_alloc(byteCount) else { return nil }
        self.byteCount = byteCount
        base = p
    }

    deinit { ps_packed_free(base, byteCount) }

    /// Whether models loaded on this thread copy their weights into an arena (`PIPESERVE_PACK` is
    /// not `off`, `PackedWeights.allowOnThisThread(false)` was not called).
    public static var preferred: Bool { ps_arena_preferred() != 0 }

    /// Copies `count` bytes to `offset` (a multiple of 64 with room); the copy's address, or nil
    /// when it does not fit.
    public func copy(_ source: UnsafeRawPointer, count: Int, offset: Int) -> UnsafeRawPointer? {
        guard count >= 0, offset >= 0, offset % 64 == 0, offset + count <= byteCount else { return nil }
        (base + offset).copyMemory(from: source, byteCount: count)
        return UnsafeRawPointer(base + offset)
    }
}

/// A weight matrix repacked for the 8-bit-activation kernels: Q5_0, Q8_0, Q4_K or Q6_K rows interleaved
/// 16 at a time, so that the AVX-512 VNNI kernel gives 16 rows' dot products per instruction without
/// unpacking or horizontal sums (layout in `ps_quant.h`). The same bytes reordered; products are
/// bitwise those of the GGUF rows at every ISA level.
public struct PackedWeights: @unchecked Sendable {
    // Sendable: points into an arena it keeps alive, read-only once packed.
    public let format: WeightFormat
    public let rows: Int
    public let k: Int
    public let byteCount: Int
    private let arena: PackedArena
    @usableFromInline let storage: UnsafeMutableRawPointer

    /// Whether packing `format` with rows of `k` elements pays off in this process (AVX-512 VNNI
    /// at the process's ISA level, `PIPESERVE_PACK` not `off`; Q8_0 only for k <= 1024).
    public static func preferred(_ format: WeightFormat, k: Int) -> Bool { ps_packed_preferred(format.rawValue, Int64(k)) != 0 }

    /// Whether a product with `batch` activation rows is faster on these rows than on the GGUF
    /// rows (`ps_packed_batch_preferred`: one row always; batches for every packed format). Both
    /// give the same bits.
    public func preferred(batch: Int) -> Bool { ps_packed_batch_preferred(format.rawValue, Int64(k), Int64(batch)) != 0 }

    /// Turns packing off (`false`) for models loaded on the calling thread, or back to the
    /// process's choice (`true`), so tests can load one model both ways.
    public static func allowOnThisThread(_ allowed: Bool) { _ = ps_packed_set(allowed ? -1 : 0) }

    /// Bytes of the packed form, or nil when there is none (formats other than Q5_0, Q8_0, Q4_K and Q6_K,
    /// `rows` not a multiple of 16, `k` not a multiple of the format's block).
    public static func byteCount(format: WeightFormat, k: Int, rows: Int) -> Int? {
        let n = Int(ps_packed_bytes(format.rawValue, Int64(rows), Int64(k)))
        return n > 0 ? n : nil
    }

    /// Packs `rows` rows of `k` elements (`rowBytes` apart) into `arena` at `offset` (a multiple
    /// of 64 with `byteCount(...)` bytes of room); nil when that does not fit or there is no
    /// packed form.
    public init?(format: WeightFormat, weights: UnsafeRawPointer, rowBytes: Int, k: Int, rows: Int,
                 arena: PackedArena, offset: Int) {
        guard let n = Self.byteCount(format: format, k: k, rows: rows), let needed = format.rowBytes(k), rowBytes >= needed,
              offset >= 0, offset % 64 == 0, offset + n <= arena.byteCount else { return nil }
        let p = arena.base + offset
        guard ps_pack_rows(format.rawValue, weights, rowBytes, Int64(k), Int64(rows), p) == 0 else { return nil }
        self.format = format
        self.rows = rows
        self.k = k
        byteCount = n
        self.arena = arena
        storage = p
    }

    /// Packs into an arena of its own.
    public init?(format: WeightFormat, weights: UnsafeRawPointer, rowBytes: Int, k: Int, rows: Int) {
        guard let n = Self.byteCount(format: format, k: k, rows: rows), let arena = PackedArena(byteCount: n) else { return nil }
        self.init(format: format, weights: weights, rowBytes: rowBytes, k: k, rows: rows, arena: arena, offset: 0)
    }

    /// Row `r` in the GGUF layout (`format.rowBytes(k)` bytes).
    public func unpackRow(_ r: Int) -> [UInt8] {
        guard r >= 0, r < rows, let n = format.rowBytes(k) else { return [] }
        var out = [UInt8](repeating: 0, count: n)
        out.withUnsafeMutableBytes { _ = ps_unpack_row(format.rawValue, storage, Int64(k), Int64(r), $0.baseAddress!) }
        return out
    }

    /// `QuantizedMatmul.multiplyQuantized` on these rows: `y[b * yStride + r] = W[r] · xq[b]`;
    /// `rows` must start and end on multiples of 16 (the caller's thread split does).
    public func multiplyQuantized(xq: UnsafeRawPointer, batch: Int, y: UnsafeMutablePointer<Float>, yStride: Int,
                                  rows range: Range<Int>) throws(KernelsError) {
        guard range.lowerBound >= 0, range.upperBound <= rows, range.lowerBound % 16 == 0, range.upperBound % 16 == 0,
              batch >= 0, batch <= 1 || yStride >= range.upperBound else {
            throw .invalidShape("packed rows \(range) of \(rows) (multiples of 16), batch \(batch), yStride \(yStride)")
        }
        if batch == 0 || range.isEmpty { return }
        ps_matmul_q8_packed(format.rawValue, storage, Int64(k), xq, Int64(batch), y, Int64(yStride),
                            Int64(range.lowerBound), Int64(range.upperBound))
    }
}
