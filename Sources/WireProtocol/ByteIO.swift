/// Writes little-endian fields into a buffer of exactly known size (the frame being built), so
/// each encoded frame costs one allocation and no zero-filling or regrowth.
struct ByteWriter {
    private let base: UnsafeMutableRawBufferPointer
    private(set) var offset = 0

    /// Builds an array of exactly `size` bytes; `body` must write all of them.
    static func build(size: Int, _ body: (inout ByteWriter) -> Void) -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: size) { buffer, count in
            var w = ByteWriter(base: UnsafeMutableRawBufferPointer(buffer))
            body(&w)
            precondition(w.offset == size, "encoder wrote \(w.offset) bytes into a \(size)-byte frame")
            count = size
        }
    }

    private init(base: UnsafeMutableRawBufferPointer) { self.base = base }

    @inline(__always) private mutating func put<T: FixedWidthInteger>(_ v: T) {
        precondition(offset + MemoryLayout<T>.size <= base.count, "encoder overran its frame size")
        base.storeBytes(of: v.littleEndian, toByteOffset: offset, as: T.self)
        offset += MemoryLayout<T>.size
    }

    @inline(__always) mutating func u8(_ v: UInt8) { put(v) }
    @inline(__always) mutating func u16(_ v: UInt16) { put(v) }
    @inline(__always) mutating func u32(_ v: UInt32) { put(v) }
    @inline(__always) mutating func u64(_ v: UInt64) { put(v) }
    @inline(__always) mutating func i32(_ v: Int32) { put(v) }
    @inline(__always) mutating func f32(_ v: Float) { put(v.bitPattern) }

    /// Writes a u32 element count. Counts above u32 cannot be framed (a frame is < 4 GiB).
    mutating func count(_ n: Int) {
        precondition(n >= 0 && n <= Int(UInt32.max), "wire count \(n) does not fit u32")
        u32(UInt32(n))
    }

    mutating func i32Array(_ values: [Int32]) {
        #if _endian(little)
        values.withUnsafeBytes { raw($0) }
        #else
        for v in values { i32(v) }
        #endif
    }

    mutating func raw(_ bytes: UnsafeRawBufferPointer) {
        space(bytes.count).copyMemory(from: bytes)
    }

    /// The next `n` bytes, for the caller to fill completely.
    mutating func space(_ n: Int) -> UnsafeMutableRawBufferPointer {
        precondition(n >= 0 && offset + n <= base.count, "encoder overran its frame size")
        let s = UnsafeMutableRawBufferPointer(rebasing: base[offset ..< offset + n])
        offset += n
        return s
    }
}

/// Reads little-endian fields from a payload, bounds-checking every read and reporting the
/// message type, field name and offset of any shortfall.
struct ByteReader {
    let base: UnsafeRawBufferPointer
    let type: WireMessageType
    private(set) var offset = 0

    init(_ base: UnsafeRawBufferPointer, type: WireMessageType) {
        self.base = base
        self.type = type
    }

    var remaining: Int { base.count - offset }

    @inline(__always) mutating func need(_ n: Int, _ field: String) throws(WireError) {
        guard n <= remaining else {
            throw .truncatedPayload(type: type, field: field, offset: offset, needed: n, available: remaining)
        }
    }

    @inline(__always) mutating func load<T: FixedWidthInteger>(_: T.Type, _ field: String) throws(WireError) -> T {
        try need(MemoryLayout<T>.size, field)
        let v = T(littleEndian: base.loadUnaligned(fromByteOffset: offset, as: T.self))
        offset += MemoryLayout<T>.size
        return v
    }

    mutating func u8(_ field: String) throws(WireError) -> UInt8 { try load(UInt8.self, field) }
    mutating func u16(_ field: String) throws(WireError) -> UInt16 { try load(UInt16.self, field) }
    mutating func u32(_ field: String) throws(WireError) -> UInt32 { try load(UInt32.self, field) }
    mutating func u64(_ field: String) throws(WireError) -> UInt64 { try load(UInt64.self, field) }
    mutating func i32(_ field: String) throws(WireError) -> Int32 { try load(Int32.self, field) }
    mutating func f32(_ field: String) throws(WireError) -> Float { Float(bitPattern: try load(UInt32.self, field)) }

    /// Reads a count of elements that each occupy at least `minElementSize` bytes, and rejects it
    /// unless that many elements could fit in the bytes left. Callers may then reserve `count`.
    mutating func count(_ field: String, minElementSize: Int, width: Int = 4) throws(WireError) -> Int {
        let at = offset
        let n: UInt64 = width == 1 ? UInt64(try u8(field + " count")) : UInt64(try u32(field + " count"))
        let (bytes, overflow) = n.multipliedReportingOverflow(by: UInt64(max(minElementSize, 1)))
        guard !overflow, bytes <= UInt64(remaining) else {
            throw .countTooLarge(type: type, field: field, count: n, offset: at, bytesLeft: remaining)
        }
        return Int(n)
    }

    mutating func role(_ field: String) throws(WireError) -> WireRole {
        let at = offset
        let v = try i32(field)
        guard let r = WireRole(wireValue: v) else {
            throw .invalidValue(type: type, field: field, value: Int64(v), offset: at)
        }
        return r
    }

    mutating func dtype(_ field: String) throws(WireError) -> WireActivationDType {
        let at = offset
        let v = try u8(field)
        guard let d = WireActivationDType(rawValue: v) else {
            throw .invalidValue(type: type, field: field, value: Int64(v), offset: at)
        }
        return d
    }

    /// `count` Int32 values (the count must already be validated).
    mutating func i32Array(_ count: Int, _ field: String) throws(WireError) -> [Int32] {
        try need(count * 4, field)
        let start = offset
        offset += count * 4
        return [Int32](unsafeUninitializedCapacity: count) { buf, initialized in
            #if _endian(little)
            UnsafeMutableRawBufferPointer(buf).copyMemory(from: UnsafeRawBufferPointer(rebasing: base[start ..< start + count * 4]))
            #else
            for i in 0 ..< count {
                buf[i] = Int32(littleEndian: base.loadUnaligned(fromByteOffset: start + 4 * i, as: Int32.self))
            }
            #endif
            initialized = count
        }
    }

    /// A u32 length followed by that many bytes of UTF-8, at most `maxBytes`.
    mutating func string(_ field: String, maxBytes: Int) throws(WireError) -> String {
        let length = Int(try u32(field + " length"))
        guard length <= maxBytes else {
            throw .stringTooLong(type: type, field: field, length: length, limit: maxBytes)
        }
        try need(length, field)
        let at = offset
        let slice = UnsafeRawBufferPointer(rebasing: base[at ..< at + length])
        offset += length
        // Decoding repairs ill-formed sequences with U+FFFD, so the bytes differ exactly when invalid.
        let s = String(decoding: slice, as: UTF8.self)
        guard s.utf8.elementsEqual(slice) else {
            throw .invalidUTF8(type: type, field: field, offset: at)
        }
        return s
    }

    /// Raw bytes of the next `n` bytes (already bounds-checked by the caller through `need`).
    mutating func bytes(_ n: Int, _ field: String) throws(WireError) -> UnsafeRawBufferPointer {
        try need(n, field)
        let slice = UnsafeRawBufferPointer(rebasing: base[offset ..< offset + n])
        offset += n
        return slice
    }

    func finish() throws(WireError) {
        guard remaining == 0 else { throw .trailingBytes(type: type, count: remaining) }
    }
}
