/// A bounds-checked little-endian reader over a byte buffer. Every read either returns a value
/// wholly inside the buffer or throws `GGUFError.truncated` naming what was being read.
struct ByteCursor {
    let base: UnsafeRawBufferPointer
    private(set) var offset: Int = 0

    init(_ base: UnsafeRawBufferPointer) { self.base = base }

    var remaining: Int { base.count - offset }

    mutating func take(_ count: Int, _ what: @autoclosure () -> String) throws -> UnsafeRawBufferPointer {
        guard count >= 0, count <= remaining else {
            throw GGUFError.truncated(what: what(), offset: offset, needed: count, available: remaining)
        }
        let slice = UnsafeRawBufferPointer(rebasing: base[offset..<(offset + count)])
        offset += count
        return slice
    }

    mutating func read<T: FixedWidthInteger>(_: T.Type, _ what: @autoclosure () -> String) throws -> T {
        let bytes = try take(MemoryLayout<T>.size, what())
        return T(littleEndian: bytes.loadUnaligned(as: T.self))
    }

    mutating func readFloat(_ what: @autoclosure () -> String) throws -> Float {
        Float(bitPattern: try read(UInt32.self, what()))
    }

    mutating func readDouble(_ what: @autoclosure () -> String) throws -> Double {
        Double(bitPattern: try read(UInt64.self, what()))
    }

    /// A GGUF string: u64 length then that many UTF-8 bytes (no terminator).
    mutating func readString(_ what: @autoclosure () -> String) throws -> String {
        let start = offset
        let length = try read(UInt64.self, "length of \(what())")
        guard length <= UInt64(remaining) else {
            throw GGUFError.truncated(what: what(), offset: offset, needed: Int(clamping: length), available: remaining)
        }
        let bytes = try take(Int(length), what())
        guard let s = String(validating: bytes, as: UTF8.self) else {
            throw GGUFError.invalidString(what: what(), offset: start)
        }
        return s
    }

    mutating func align(to alignment: Int) {
        let rem = offset % alignment
        if rem != 0 { offset = min(base.count, offset + alignment - rem) }
    }
}
