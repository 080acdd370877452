import Foundation

/// Writes GGUF version 3 files. Used by tests and by `pipeserve synth-model` to make small
/// synthetic models; it writes exactly what it is given (it can also write broken files when a
/// test asks for them through the raw hooks).
public struct GGUFWriter: Sendable {
    /// A tensor to write: ggml dims (`dims[0]` contiguous), type and the already-encoded bytes.
    public struct Tensor: Sendable {
        public var name: String
        public var dims: [Int]
        public var type: GGMLType
        public var data: [UInt8]
        public init(name: String, dims: [Int], type: GGMLType, data: [UInt8]) {
            self.name = name; self.dims = dims; self.type = type; self.data = data
        }
    }

    public var metadata: [(String, GGUFValue)] = []
    public var tensors: [Tensor] = []
    public var alignment: Int = 32
    public var version: UInt32 = 3

    public init() {}

    public mutating func set(_ key: String, _ value: GGUFValue) {
        if let i = metadata.firstIndex(where: { $0.0 == key }) { metadata[i].1 = value } else { metadata.append((key, value)) }
    }

    public mutating func add(_ tensor: Tensor) { tensors.append(tensor) }

    /// Adds an F32 tensor from floats.
    public mutating func addF32(_ name: String, dims: [Int], values: [Float]) {
        var bytes = [UInt8]()
        bytes.reserveCapacity(values.count * 4)
        for v in values { withUnsafeBytes(of: v.bitPattern.littleEndian) { bytes.append(contentsOf: $0) } }
        add(Tensor(name: name, dims: dims, type: .f32, data: bytes))
    }

    /// The encoded file.
    public func encoded() -> [UInt8] {
        var out = [UInt8]()
        func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) } }
        func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) } }
        func str(_ s: String) { u64(UInt64(s.utf8.count)); out.append(contentsOf: s.utf8) }
        func value(_ v: GGUFValue) {
            switch v {
            case let .uint8(x): out.append(x)
            case let .int8(x): out.append(UInt8(bitPattern: x))
            case let .uint16(x): withUnsafeBytes(of: x.littleEndian) { out.append(contentsOf: $0) }
            case let .int16(x): withUnsafeBytes(of: x.littleEndian) { out.append(contentsOf: $0) }
            case let .uint32(x): u32(x)
            case let .int32(x): u32(UInt32(bitPattern: x))
            case let .float32(x): u32(x.bitPattern)
            case let .bool(x): out.append(x ? 1 : 0)
            case let .string(s): str(s)
            case let .array(t, items):
                u32(t.rawValue); u64(UInt64(items.count))
                for item in items { value(item) }
            case let .uint64(x): u64(x)
            case let .int64(x): u64(UInt64(bitPattern: x))
            case let .float64(x): u64(x.bitPattern)
            }
        }
        u32(0x4655_4747)
        u32(version)
        u64(UInt64(tensors.count))
        u64(UInt64(metadata.count))
        for (k, v) in metadata { str(k); u32(v.type.rawValue); value(v) }
        var offsets: [Int] = []
        var dataSize = 0
        for t in tensors {
            offsets.append(dataSize)
            dataSize += t.data.count
            dataSize = (dataSize + alignment - 1) / alignment * alignment
        }
        for (t, off) in zip(tensors, offsets) {
            str(t.name)
            u32(UInt32(t.dims.count))
            for d in t.dims { u64(UInt64(d)) }
            u32(t.type.rawValue)
            u64(UInt64(off))
        }
        while out.count % alignment != 0 { out.append(0) }
        let dataStart = out.count
        for (t, off) in zip(tensors, offsets) {
            while out.count < dataStart + off { out.append(0) }
            out.append(contentsOf: t.data)
        }
        while (out.count - dataStart) < dataSize { out.append(0) }
        return out
    }

    /// Writes the encoded file to `path` atomically.
    public func write(to path: String) throws {
        try Data(encoded()).write(to: URL(fileURLWithPath: path), options: .atomic)
    }
}
