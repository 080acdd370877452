import GGUF

/// Errors of model loading and of the forward pass; each names what was wrong.
public enum ModelRuntimeError: Error, CustomStringConvertible, Sendable {
    case unsupportedArchitecture(String)
    case missingTensor(String)
    case unsupportedTensorType(tensor: String, type: String)
    case tensorShape(tensor: String, expected: [Int], found: [Int])
    case invalidHyperparameter(key: String, reason: String)
    case invalidLayerRange(start: Int, end: Int, layerCount: Int)
    case invalidBatch(String)
    case positionGap(sequence: UInt64, expected: Int, got: Int)
    /// A rewind to `position` whose sliding-window layers no longer hold the keys it reads.
    case positionDropped(sequence: UInt64, position: Int)
    case contextOverflow(sequence: UInt64, position: Int, contextLength: Int)
    case tokenOutOfRange(token: Int32, vocabularySize: Int)
    case unsupportedRopeScaling(String)
    /// A prefix-cache block a batch restores is not held (evicted, or never stored here).
    case blockMissing(name: UInt64)
    /// A prefix-cache block cannot be restored or stored as asked.
    case invalidBlock(sequence: UInt64, reason: String)
    case gguf(GGUFError)

    public var description: String {
        switch self {
        case let .unsupportedArchitecture(a):
            return "unsupported model architecture '\(a)' (supported: \(ModelArchitecture.supportedNames.joined(separator: ", ")))"
        case let .missingTensor(n): return "model is missing tensor \(n)"
        case let .unsupportedTensorType(t, ty):
            return "tensor \(t) has type \(ty), which pipeserve cannot compute with (supported: F32, F16, BF16, Q4_0, Q5_0, Q8_0, Q4_K, Q5_K, Q6_K)"
        case let .tensorShape(t, e, f): return "tensor \(t) has shape \(f), expected \(e)"
        case let .invalidHyperparameter(k, r): return "invalid hyperparameter \(k): \(r)"
        case let .invalidLayerRange(s, e, n): return "invalid layer range [\(s), \(e)) for a model of \(n) layers"
        case let .invalidBatch(r): return "invalid batch: \(r)"
        case let .positionGap(s, e, g): return "sequence \(s): position \(g) does not follow its cache (next position \(e))"
        case let .positionDropped(s, p):
            return "sequence \(s): cannot restart at position \(p): its sliding-window layers no longer hold the positions before it"
        case let .contextOverflow(s, p, c): return "sequence \(s): position \(p) exceeds the context length \(c)"
        case let .tokenOutOfRange(t, v): return "token id \(t) is outside the vocabulary (size \(v))"
        case let .unsupportedRopeScaling(t): return "unsupported rope scaling type '\(t)' (supported: none, linear, llama3)"
        case let .blockMissing(n): return "prefix-cache block \(String(n, radix: 16)) is not held by this stage"
        case let .invalidBlock(s, r): return "sequence \(s): \(r)"
        case let .gguf(e): return e.description
        }
    }
}
