/// The element encodings a weight tensor may use, with ggml's type ids and block layouts
/// (so GGUF tensor bytes are used in place). See `ps_quant.h` for the byte layout of each block.
public enum WeightFormat: Int32, Sendable, CaseIterable {
    case f32 = 0
    case f16 = 1
    case q4_0 = 2
    case q5_0 = 6
    case q8_0 = 8
    case q4_K = 12
    case q5_K = 13
    case q6_K = 14
    case bf16 = 30

    /// Elements stored in one block: 1 for the float formats, 32 for Q*_0, 256 for the K-quants.
    public var blockElements: Int {
        switch self {
        case .f32, .f16, .bf16: 1
        case .q4_0, .q5_0, .q8_0: 32
        case .q4_K, .q5_K, .q6_K: 256
        }
    }

    /// Bytes of one block.
    public var blockBytes: Int {
        switch self {
        case .f32: 4
        case .f16, .bf16: 2
        case .q4_0: 18
        case .q5_0: 22
        case .q8_0: 34
        case .q4_K: 144
        case .q5_K: 176
        case .q6_K: 210
        }
    }

    /// Bytes of a row of `k` elements, or nil when `k` is not a positive multiple of the block size.
    public func rowBytes(_ k: Int) -> Int? {
        guard k > 0, k % blockElements == 0 else { return nil }
        return k / blockElements * blockBytes
    }
}
