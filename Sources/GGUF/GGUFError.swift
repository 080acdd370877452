/// Everything that can be wrong with a GGUF file, each case naming what and where.
public enum GGUFError: Error, CustomStringConvertible, Equatable, Sendable {
    case cannotOpen(path: String, reason: String)
    case badMagic(found: UInt32)
    case unsupportedVersion(UInt32)
    case truncated(what: String, offset: Int, needed: Int, available: Int)
    case absurdCount(what: String, count: UInt64, limit: UInt64)
    case invalidString(what: String, offset: Int)
    case unknownValueType(key: String, type: UInt32)
    case duplicateKey(String)
    case wrongValueType(key: String, expected: String, found: String)
    case missingKey(String)
    case invalidAlignment(UInt64)
    case duplicateTensor(String)
    case unknownTensorType(tensor: String, type: UInt32)
    case invalidTensorShape(tensor: String, dims: [UInt64], reason: String)
    case misalignedTensor(tensor: String, offset: UInt64, alignment: Int)
    case tensorOutOfBounds(tensor: String, offset: UInt64, size: Int, dataSize: Int)
    case tensorNotFound(String)
    case nestingTooDeep(key: String)

    public var description: String {
        switch self {
        case let .cannotOpen(path, reason): return "cannot open GGUF file \(path): \(reason)"
        case let .badMagic(found):
            return "not a GGUF file: bad magic 0x\(String(found, radix: 16)) (expected 0x46554747, \"GGUF\")"
        case let .unsupportedVersion(v): return "unsupported GGUF version \(v) (supported: 2, 3)"
        case let .truncated(what, offset, needed, available):
            return "GGUF file truncated while reading \(what) at byte \(offset): needs \(needed) bytes, \(available) left"
        case let .absurdCount(what, count, limit): return "absurd \(what) \(count) in GGUF header (limit \(limit))"
        case let .invalidString(what, offset): return "invalid UTF-8 in \(what) at byte \(offset)"
        case let .unknownValueType(key, type): return "metadata key \(key) has unknown value type \(type)"
        case let .duplicateKey(key): return "duplicate metadata key \(key)"
        case let .wrongValueType(key, expected, found):
            return "metadata key \(key) has type \(found), expected \(expected)"
        case let .missingKey(key): return "missing required metadata key \(key)"
        case let .invalidAlignment(a): return "general.alignment \(a) is not a power of two between 1 and 65536"
        case let .duplicateTensor(name): return "duplicate tensor name \(name)"
        case let .unknownTensorType(tensor, type): return "tensor \(tensor) has unknown type id \(type)"
        case let .invalidTensorShape(tensor, dims, reason): return "tensor \(tensor) has invalid shape \(dims): \(reason)"
        case let .misalignedTensor(tensor, offset, alignment):
            return "tensor \(tensor) data offset \(offset) is not a multiple of the alignment \(alignment)"
        case let .tensorOutOfBounds(tensor, offset, size, dataSize):
            return "tensor \(tensor) (offset \(offset), \(size) bytes) extends past the end of the data section (\(dataSize) bytes)"
        case let .tensorNotFound(name): return "tensor \(name) not found in GGUF file"
        case let .nestingTooDeep(key): return "metadata key \(key) nests arrays too deeply"
        }
    }
}
