// GGUF container reader (versions 2 and 3), after the GGUF spec in ggml's docs/gguf.md.
//
//   offset  bytes
//   0       4     magic "GGUF" (0x46554747 little-endian)
//   4       4     version u32 (2 or 3)
//   8       8     tensor_count u64
//   16      8     metadata_kv_count u64
//   24      …     metadata: { key: string, type: u32, value }   × metadata_kv_count
//           …     tensors:  { name: string, n_dims: u32, dims: u64 × n_dims, type: u32, offset: u64 } × tensor_count
//           …     padding to general.alignment (default 32)
//           …     data section: each tensor at data_start + offset (offset a multiple of the alignment)
//
//   string = u64 length + UTF-8 bytes; array = u32 element type + u64 count + elements.
//   All integers little-endian. Every count is checked against the bytes left before anything is
//   allocated, so a hostile header cannot make the reader allocate what it claims.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A memory-mapped GGUF file: metadata, tensor table and bounds-checked views of tensor data.
/// The mapping is read-only and lives as long as this object; views must not outlive it.
public final class GGUFFile: @unchecked Sendable {
    // Sendable: the mapping is read-only after init and never remapped.

    /// Path the file was opened from.
    public let path: String
    /// Format version (2 or 3).
    public let version: UInt32
    /// Metadata in file order.
    public let metadata: GGUFMetadata
    /// Tensor table in file order.
    public let tensors: [GGUFTensorInfo]
    /// Byte offset of the data section.
    public let dataOffset: Int
    /// Alignment of tensor data (general.alignment).
    public let alignment: Int
    /// Size of the file in bytes.
    public let fileSize: Int
    /// Byte length of header + metadata (used for a model identity hash).
    public let metadataEnd: Int

    private let mapping: UnsafeRawBufferPointer
    private let owner: GGUFMapping
    private let tensorIndex: [String: Int]

    /// Maps and parses the file at `path`. Throws `GGUFError` naming the first problem found.
    public convenience init(path: String) throws {
        // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer for ever (and
        // a device could block too); a regular file ignores the flag.
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { throw GGUFError.cannotOpen(path: path, reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw GGUFError.cannotOpen(path: path, reason: String(cString: strerror(errno))) }
        guard (st.st_mode & S_IFMT) == S_IFREG else {
            throw GGUFError.cannotOpen(path: path, reason: "not a regular file (\(Self.fileKind(st.st_mode)))")
        }
        let size = Int(st.st_size)
        guard size > 0 else { throw GGUFError.truncated(what: "magic", offset: 0, needed: 4, available: 0) }
        guard let addr = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), addr != MAP_FAILED else {
            throw GGUFError.cannotOpen(path: path, reason: "mmap failed: \(String(cString: strerror(errno)))")
        }
        // From here the mapping is owned (and unmapped) by GGUFMapping, also on a throw.
        try self.init(path: path, owner: GGUFMapping(UnsafeRawBufferPointer(start: addr, count: size)))
    }

    /// What a non-regular file is, for the error message.
    static func fileKind(_ mode: mode_t) -> String {
        switch mode & S_IFMT {
        case S_IFDIR: return "a directory"
        case S_IFIFO: return "a FIFO"
        case S_IFCHR: return "a character device"
        case S_IFBLK: return "a block device"
        case S_IFSOCK: return "a socket"
        default: return "file type \(mode & S_IFMT)"
        }
    }

    private init(path: String, owner: GGUFMapping) throws {
        let mapping = owner.buffer
        self.path = path
        self.owner = owner
        self.mapping = mapping
        self.fileSize = mapping.count
        var cursor = ByteCursor(mapping)
        let magic = try cursor.read(UInt32.self, "magic")
        guard magic == 0x4655_4747 else { throw GGUFError.badMagic(found: magic) }
        let version = try cursor.read(UInt32.self, "version")
        guard version == 2 || version == 3 else { throw GGUFError.unsupportedVersion(version) }
        self.version = version
        let tensorCount = try cursor.read(UInt64.self, "tensor count")
        let kvCount = try cursor.read(UInt64.self, "metadata count")
        // A metadata entry takes ≥ 8 (key length) + 4 (type) + 1 bytes; a tensor entry ≥ 8 + 4 + 4 + 8.
        let kvLimit = UInt64(cursor.remaining / 13)
        guard kvCount <= kvLimit else { throw GGUFError.absurdCount(what: "metadata count", count: kvCount, limit: kvLimit) }
        let tensorLimit = UInt64(cursor.remaining / 24)
        guard tensorCount <= tensorLimit else {
            throw GGUFError.absurdCount(what: "tensor count", count: tensorCount, limit: tensorLimit)
        }

        var entries: [(String, GGUFMetadata.Stored)] = []
        entries.reserveCapacity(Int(kvCount))
        var seen = Set<String>()
        for i in 0..<Int(kvCount) {
            let key = try cursor.readString("metadata key #\(i)")
            guard seen.insert(key).inserted else { throw GGUFError.duplicateKey(key) }
            let rawType = try cursor.read(UInt32.self, "type of \(key)")
            guard let type = GGUFValueType(rawValue: rawType) else { throw GGUFError.unknownValueType(key: key, type: rawType) }
            if type == .array, let deferred = try Self.skipLargeArray(&cursor, key: key) {
                entries.append((key, deferred))
            } else {
                entries.append((key, .value(try Self.readValue(&cursor, type: type, key: key, depth: 0))))
            }
        }
        let metadata = GGUFMetadata(stored: entries, mapping: owner)
        self.metadata = metadata
        try metadata.validateKnownKeys()

        var alignment = 32
        if let value = metadata["general.alignment"] {
            guard case let .uint32(a) = value else {
                throw GGUFError.wrongValueType(key: "general.alignment", expected: "u32", found: value.type.description)
            }
            guard a > 0, a <= 65536, a & (a - 1) == 0 else { throw GGUFError.invalidAlignment(UInt64(a)) }
            alignment = Int(a)
        }
        self.alignment = alignment

        var infos: [GGUFTensorInfo] = []
        infos.reserveCapacity(Int(tensorCount))
        var rawOffsets: [UInt64] = []
        var index: [String: Int] = [:]
        for i in 0..<Int(tensorCount) {
            let name = try cursor.readString("name of tensor #\(i)")
            guard index[name] == nil else { throw GGUFError.duplicateTensor(name) }
            let nDims = try cursor.read(UInt32.self, "dimension count of \(name)")
            guard nDims >= 1, nDims <= 4 else {
                throw GGUFError.invalidTensorShape(tensor: name, dims: [], reason: "\(nDims) dimensions (1 to 4 allowed)")
            }
            var dims: [UInt64] = []
            for d in 0..<Int(nDims) { dims.append(try cursor.read(UInt64.self, "dimension \(d) of \(name)")) }
            let rawType = try cursor.read(UInt32.self, "type of \(name)")
            guard let type = GGMLType(rawValue: rawType) else { throw GGUFError.unknownTensorType(tensor: name, type: rawType) }
            let offset = try cursor.read(UInt64.self, "data offset of \(name)")
            var count = 1
            for d in dims {
                guard d >= 1, d <= UInt64(Int32.max) else {
                    throw GGUFError.invalidTensorShape(tensor: name, dims: dims, reason: "dimension \(d) out of range")
                }
                let (p, o) = count.multipliedReportingOverflow(by: Int(d))
                guard !o, p <= Int(Int64(1) << 40) else {
                    throw GGUFError.invalidTensorShape(tensor: name, dims: dims, reason: "element count overflows")
                }
                count = p
            }
            guard Int(dims[0]) % type.blockElements == 0, let bytes = type.byteCount(elements: count) else {
                throw GGUFError.invalidTensorShape(
                    tensor: name, dims: dims, reason: "row length \(dims[0]) is not a multiple of the \(type) block size \(type.blockElements)")
            }
            index[name] = i
            rawOffsets.append(offset)
            infos.append(GGUFTensorInfo(name: name, dims: dims.map { Int($0) }, type: type, offset: 0, byteCount: bytes))
        }
        self.metadataEnd = cursor.offset
        cursor.align(to: alignment)
        let dataOffset = cursor.offset
        self.dataOffset = dataOffset
        let dataSize = mapping.count - dataOffset
        for i in infos.indices {
            let info = infos[i]
            let offset = rawOffsets[i]
            guard offset % UInt64(alignment) == 0 else {
                throw GGUFError.misalignedTensor(tensor: info.name, offset: offset, alignment: alignment)
            }
            guard offset <= UInt64(dataSize), UInt64(info.byteCount) <= UInt64(dataSize) - offset else {
                throw GGUFError.tensorOutOfBounds(tensor: info.name, offset: offset, size: info.byteCount, dataSize: dataSize)
            }
            infos[i] = GGUFTensorInfo(name: info.name, dims: info.dims, type: info.type, offset: Int(offset), byteCount: info.byteCount)
        }
        self.tensors = infos
        self.tensorIndex = index
    }

    /// Arrays longer than this are checked at open but decoded only when read (vocabularies:
    /// a stage process never reads its 262k tokens, so it never pays for them).
    static let deferredArrayThreshold = 64

    /// For a long array of scalars or strings: validates it (bounds, UTF-8) without building it
    /// and returns where it is. Returns nil (cursor unmoved) for short or nested arrays.
    private static func skipLargeArray(_ c: inout ByteCursor, key: String) throws -> GGUFMetadata.Stored? {
        var probe = c
        let rawElement = try probe.read(UInt32.self, "element type of \(key)")
        guard let element = GGUFValueType(rawValue: rawElement) else { throw GGUFError.unknownValueType(key: key, type: rawElement) }
        let count = try probe.read(UInt64.self, "element count of \(key)")
        let limit = UInt64(probe.remaining / element.minimumSize)
        guard count <= limit else { throw GGUFError.absurdCount(what: "element count of \(key)", count: count, limit: limit) }
        guard count > UInt64(deferredArrayThreshold), element != .array else { return nil }
        let start = probe.offset
        if let size = element.fixedSize {
            _ = try probe.take(Int(count) * size, "elements of \(key)")
        } else {
            for _ in 0..<Int(count) {
                let at = probe.offset
                let length = try probe.read(UInt64.self, "length of an element of \(key)")
                guard length <= UInt64(probe.remaining) else {
                    throw GGUFError.truncated(what: "element of \(key)", offset: probe.offset, needed: Int(clamping: length), available: probe.remaining)
                }
                let bytes = try probe.take(Int(length), "element of \(key)")
                guard isValidUTF8(bytes) else { throw GGUFError.invalidString(what: "element of \(key)", offset: at) }
            }
        }
        c = probe
        return .deferred(element: element, count: Int(count), offset: start)
    }

    /// Decodes a deferred array (validated at open, so it cannot fail).
    static func decodeDeferred(_ buffer: UnsafeRawBufferPointer, element: GGUFValueType, count: Int, offset: Int) -> GGUFValue {
        var c = ByteCursor(buffer)
        _ = try? c.take(offset, "")
        var items: [GGUFValue] = []
        items.reserveCapacity(count)
        for _ in 0..<count {
            if element == .string {
                let n = (try? c.read(UInt64.self, "")) ?? 0
                let bytes = (try? c.take(Int(n), "")) ?? UnsafeRawBufferPointer(start: nil, count: 0)
                items.append(.string(String(decoding: bytes, as: UTF8.self)))
            } else if let v = try? readValue(&c, type: element, key: "", depth: 1) {
                items.append(v)
            }
        }
        return .array(element, items)
    }

    private static func readValue(_ c: inout ByteCursor, type: GGUFValueType, key: String, depth: Int) throws -> GGUFValue {
        switch type {
        case .uint8: return .uint8(try c.read(UInt8.self, key))
        case .int8: return .int8(try c.read(Int8.self, key))
        case .uint16: return .uint16(try c.read(UInt16.self, key))
        case .int16: return .int16(try c.read(Int16.self, key))
        case .uint32: return .uint32(try c.read(UInt32.self, key))
        case .int32: return .int32(try c.read(Int32.self, key))
        case .float32: return .float32(try c.readFloat(key))
        case .bool:
            let b = try c.read(UInt8.self, key)
            return .bool(b != 0)
        case .string: return .string(try c.readString("value of \(key)"))
        case .uint64: return .uint64(try c.read(UInt64.self, key))
        case .int64: return .int64(try c.read(Int64.self, key))
        case .float64: return .float64(try c.readDouble(key))
        case .array:
            guard depth < 8 else { throw GGUFError.nestingTooDeep(key: key) }
            let rawElement = try c.read(UInt32.self, "element type of \(key)")
            guard let element = GGUFValueType(rawValue: rawElement) else {
                throw GGUFError.unknownValueType(key: key, type: rawElement)
            }
            let count = try c.read(UInt64.self, "element count of \(key)")
            let limit = UInt64(c.remaining / element.minimumSize)
            guard count <= limit else { throw GGUFError.absurdCount(what: "element count of \(key)", count: count, limit: limit) }
            var items: [GGUFValue] = []
            items.reserveCapacity(Int(count))
            for _ in 0..<Int(count) { items.append(try readValue(&c, type: element, key: key, depth: depth + 1)) }
            return .array(element, items)
        }
    }

    /// The table entry of a tensor, or `nil`.
    public func tensorInfo(_ name: String) -> GGUFTensorInfo? {
        tensorIndex[name].map { tensors[$0] }
    }

    /// Bounds-checked view of a tensor's bytes (inside the mapping; valid while `self` lives).
    public func tensorData(_ name: String) throws -> UnsafeRawBufferPointer {
        guard let info = tensorInfo(name) else { throw GGUFError.tensorNotFound(name) }
        return tensorData(info)
    }

    /// The bytes of a tensor from this file's table (already bounds-checked when the file was opened).
    public func tensorData(_ info: GGUFTensorInfo) -> UnsafeRawBufferPointer {
        let start = dataOffset + info.offset
        return UnsafeRawBufferPointer(rebasing: mapping[start..<(start + info.byteCount)])
    }

    /// Tells the kernel that the process no longer needs the pages wholly inside `info`'s bytes
    /// (madvise MADV_DONTNEED), after they were copied elsewhere: they leave the resident set and
    /// are read again from the page cache if touched. Contents are unchanged (the mapping is
    /// read-only and private).
    public func releaseResidentPages(_ info: GGUFTensorInfo) {
        let data = tensorData(info)
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        guard page > 0, let start = data.baseAddress else { return }
        let lo = (Int(bitPattern: start) + page - 1) / page * page
        let hi = (Int(bitPattern: start) + data.count) / page * page
        guard hi > lo, let p = UnsafeMutableRawPointer(bitPattern: lo) else { return }
        _ = madvise(p, hi - lo, Int32(MADV_DONTNEED))
    }

    /// Header and metadata bytes, for hashing a model's identity.
    public var headerBytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(rebasing: mapping[0..<metadataEnd]) }
}
