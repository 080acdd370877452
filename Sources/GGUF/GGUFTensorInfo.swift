/// One entry of a GGUF tensor table.
public struct GGUFTensorInfo: Sendable, Equatable {
    /// Tensor name, e.g. `blk.0.attn_q.weight`.
    public let name: String
    /// Dimensions in ggml order: `dims[0]` is the contiguous (row) length.
    public let dims: [Int]
    /// Element type.
    public let type: GGMLType
    /// Offset of the data relative to the start of the data section.
    public let offset: Int
    /// Bytes of tensor data.
    public let byteCount: Int

    /// Total number of elements.
    public var elementCount: Int { dims.reduce(1, *) }
    /// Number of rows (product of all dims but the first).
    public var rowCount: Int { dims.dropFirst().reduce(1, *) }
    /// Bytes per row of `dims[0]` elements.
    public var rowBytes: Int { dims.isEmpty ? 0 : byteCount / max(1, rowCount) }
}
