#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Owns a read-only file mapping; unmapped when the last holder (file or metadata) goes away.
final class GGUFMapping: @unchecked Sendable {
    // Sendable: read-only after creation.
    let buffer: UnsafeRawBufferPointer
    init(_ buffer: UnsafeRawBufferPointer) { self.buffer = buffer }
    deinit {
        if let base = buffer.baseAddress { munmap(UnsafeMutableRawPointer(mutating: base), buffer.count) }
    }
}

/// UTF-8 validity without building a String (for checking long arrays at open).
func isValidUTF8(_ b: UnsafeRawBufferPointer) -> Bool {
    var i = 0
    let n = b.count
    while i < n {
        let c = b[i]
        if c < 0x80 { i += 1; continue }
        let len: Int
        var min: UInt32
        var v: UInt32
        if c & 0xE0 == 0xC0 { len = 2; v = UInt32(c & 0x1F); min = 0x80 }
        else if c & 0xF0 == 0xE0 { len = 3; v = UInt32(c & 0x0F); min = 0x800 }
        else if c & 0xF8 == 0xF0 { len = 4; v = UInt32(c & 0x07); min = 0x10000 }
        else { return false }
        guard i + len <= n else { return false }
        for k in 1..<len {
            let cc = b[i + k]
            guard cc & 0xC0 == 0x80 else { return false }
            v = (v << 6) | UInt32(cc & 0x3F)
        }
        if v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF) { return false }
        i += len
    }
    return true
}
