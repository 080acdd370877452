/// Index of a pipeline stage, 0 ..< stage count (u16 on the wire).
public struct StageIndex: RawRepresentable, Hashable, Comparable, Sendable, CustomStringConvertible {
    public var rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }
    public init(_ value: UInt16) { self.rawValue = value }
    public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }
    public var description: String { "stage \(rawValue)" }
}

/// Identifies one trip of a micro-batch around the ring; chosen by the coordinator (u64).
public struct BatchID: RawRepresentable, Hashable, Comparable, Sendable, CustomStringConvertible {
    public var rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }
    public init(_ value: UInt64) { self.rawValue = value }
    public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }
    public var description: String { "batch \(rawValue)" }
}

/// The micro-batch slot (0 ..< M) a batch belongs to (u32).
public struct MicroBatchSlot: RawRepresentable, Hashable, Comparable, Sendable, CustomStringConvertible {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public init(_ value: UInt32) { self.rawValue = value }
    public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }
    public var description: String { "slot \(rawValue)" }
}

/// Who is at one end of a link: the coordinator or a stage. On the wire an i32, -1 = coordinator.
public enum WireRole: Hashable, Sendable, CustomStringConvertible {
    case coordinator
    case stage(StageIndex)

    /// The i32 wire form: -1 for the coordinator, k for stage k.
    public var wireValue: Int32 {
        switch self {
        case .coordinator: return -1
        case let .stage(s): return Int32(s.rawValue)
        }
    }

    /// Decodes the i32 wire form; nil for values other than -1 and 0...65535.
    public init?(wireValue: Int32) {
        if wireValue == -1 { self = .coordinator; return }
        guard let v = UInt16(exactly: wireValue) else { return nil }
        self = .stage(StageIndex(v))
    }

    public var description: String {
        switch self {
        case .coordinator: return "coordinator"
        case let .stage(s): return s.description
        }
    }
}

/// Identity of the model file both ends must agree on: its size and a 64-bit hash of the GGUF
/// header + metadata bytes (computed by the caller, e.g. with `ModelIdentity.fnv1a64`).
public struct ModelIdentity: Hashable, Sendable, CustomStringConvertible {
    public var fileSize: UInt64
    public var metadataHash: UInt64
    public init(fileSize: UInt64, metadataHash: UInt64) {
        self.fileSize = fileSize
        self.metadataHash = metadataHash
    }

    /// 64-bit FNV-1a, a convenient hash for the GGUF header + metadata bytes.
    public static func fnv1a64(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for b in bytes {
            h ^= UInt64(b)
            h = h &* 0x0000_0100_0000_01B3
        }
        return h
    }

    public var description: String {
        "\(fileSize) bytes, metadata hash 0x\(String(metadataHash, radix: 16))"
    }
}
