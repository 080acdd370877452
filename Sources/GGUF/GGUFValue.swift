/// A metadata value of a GGUF file. Arrays keep their declared element type so that an empty
/// array still says what it would hold.
public enum GGUFValue: Sendable, Equatable {
    case uint8(UInt8), int8(Int8), uint16(UInt16), int16(Int16), uint32(UInt32), int32(Int32)
    case float32(Float), bool(Bool), string(String)
    // Only arrays are boxed: a 262k-entry vocabulary of inline values costs ~25 bytes a token,
    // where boxing every value cost ~4× that in every stage process.
    indirect case array(GGUFValueType, [GGUFValue])
    case uint64(UInt64), int64(Int64), float64(Double)

    /// The on-disk type tag of this value.
    public var type: GGUFValueType {
        switch self {
        case .uint8: return .uint8
        case .int8: return .int8
        case .uint16: return .uint16
        case .int16: return .int16
        case .uint32: return .uint32
        case .int32: return .int32
        case .float32: return .float32
        case .bool: return .bool
        case .string: return .string
        case .array: return .array
        case .uint64: return .uint64
        case .int64: return .int64
        case .float64: return .float64
        }
    }

    /// The value as a signed integer when it is any integer type and fits.
    public var integer: Int? {
        switch self {
        case let .uint8(v): return Int(v)
        case let .int8(v): return Int(v)
        case let .uint16(v): return Int(v)
        case let .int16(v): return Int(v)
        case let .uint32(v): return Int(v)
        case let .int32(v): return Int(v)
        case let .uint64(v): return v <= UInt64(Int.max) ? Int(v) : nil
        case let .int64(v): return Int(v)
        default: return nil
        }
    }

    /// The value as a floating-point number when it is a float or an integer.
    public var double: Double? {
        switch self {
        case let .float32(v): return Double(v)
        case let .float64(v): return v
        default: return integer.map(Double.init)
        }
    }

    /// A short rendering for `inspect`: arrays show their length and first elements only.
    public var summary: String {
        switch self {
        case let .string(s): return s.count > 80 ? "\"\(s.prefix(77))…\"" : "\"\(s)\""
        case let .array(t, items):
            let head = items.prefix(4).map(\.summary).joined(separator: ", ")
            return "[\(t) × \(items.count)] \(head)\(items.count > 4 ? ", …" : "")"
        case let .bool(b): return String(b)
        case let .float32(v): return String(v)
        case let .float64(v): return String(v)
        default: return integer.map(String.init) ?? "?"
        }
    }
}

/// The type tags of GGUF metadata values, as numbered in the file format.
public enum GGUFValueType: UInt32, Sendable, CustomStringConvertible {
    case uint8 = 0, int8 = 1, uint16 = 2, int16 = 3, uint32 = 4, int32 = 5, float32 = 6, bool = 7
    case string = 8, array = 9, uint64 = 10, int64 = 11, float64 = 12

    /// Fixed size in bytes of a scalar of this type; `nil` for strings and arrays.
    var fixedSize: Int? {
        switch self {
        case .uint8, .int8, .bool: return 1
        case .uint16, .int16: return 2
        case .uint32, .int32, .float32: return 4
        case .uint64, .int64, .float64: return 8
        case .string, .array: return nil
        }
    }

    /// The smallest number of bytes one element of this type can occupy (for count sanity checks).
    var minimumSize: Int { fixedSize ?? (self == .string ? 8 : 12) }

    public var description: String {
        switch self {
        case .uint8: return "u8"
        case .int8: return "i8"
        case .uint16: return "u16"
        case .int16: return "i16"
        case .uint32: return "u32"
        case .int32: return "i32"
        case .float32: return "f32"
        case .bool: return "bool"
        case .string: return "string"
        case .array: return "array"
        case .uint64: return "u64"
        case .int64: return "i64"
        case .float64: return "f64"
        }
    }
}
