/// A ggml tensor element type as stored in a GGUF tensor table, with its block geometry.
///
/// The table covers every type id ggml defines today so that `inspect` can describe any file;
/// whether the runtime can compute with a type is the runtime's decision, not the reader's.
public struct GGMLType: Hashable, Sendable, CustomStringConvertible {
    /// The numeric id stored in the file.
    public let rawValue: UInt32
    /// Name as ggml spells it (`Q4_K`, `F32`, …).
    public let name: String
    /// Elements per block (1 for plain float and integer types).
    public let blockElements: Int
    /// Bytes per block.
    public let blockBytes: Int

    public var description: String { name }

    /// Looks up a type id; `nil` for ids ggml does not define.
    public init?(rawValue: UInt32) {
        guard let entry = GGMLType.table[rawValue] else { return nil }
        self = entry
    }

    private init(_ raw: UInt32, _ name: String, _ elements: Int, _ bytes: Int) {
        self.rawValue = raw
        self.name = name
        self.blockElements = elements
        self.blockBytes = bytes
    }

    /// Bytes for `count` elements, or `nil` when `count` is not a whole number of blocks or overflows.
    public func byteCount(elements count: Int) -> Int? {
        guard count >= 0, count % blockElements == 0 else { return nil }
        let (bytes, overflow) = (count / blockElements).multipliedReportingOverflow(by: blockBytes)
        return overflow ? nil : bytes
    }

    public static let f32 = GGMLType(0, "F32", 1, 4)
    public static let f16 = GGMLType(1, "F16", 1, 2)
    public static let q4_0 = GGMLType(2, "Q4_0", 32, 18)
    public static let q5_0 = GGMLType(6, "Q5_0", 32, 22)
    public static let q8_0 = GGMLType(8, "Q8_0", 32, 34)
    public static let q4_K = GGMLType(12, "Q4_K", 256, 144)
    public static let q5_K = GGMLType(13, "Q5_K", 256, 176)
    public static let q6_K = GGMLType(14, "Q6_K", 256, 210)
    public static let bf16 = GGMLType(30, "BF16", 1, 2)

    private static let table: [UInt32: GGMLType] = {
        let all: [GGMLType] = [
            f32, f16, q4_0, GGMLType(3, "Q4_1", 32, 20), q5_0, GGMLType(7, "Q5_1", 32, 24), q8_0,
            GGMLType(9, "Q8_1", 32, 36), GGMLType(10, "Q2_K", 256, 84), GGMLType(11, "Q3_K", 256, 110),
            q4_K, q5_K, q6_K, GGMLType(15, "Q8_K", 256, 292), GGMLType(16, "IQ2_XXS", 256, 66),
            GGMLType(17, "IQ2_XS", 256, 74), GGMLType(18, "IQ3_XXS", 256, 98), GGMLType(19, "IQ1_S", 256, 50),
            GGMLType(20, "IQ4_NL", 32, 18), GGMLType(21, "IQ3_S", 256, 110), GGMLType(22, "IQ2_S", 256, 82),
            GGMLType(23, "IQ4_XS", 256, 136), GGMLType(24, "I8", 1, 1), GGMLType(25, "I16", 1, 2),
            GGMLType(26, "I32", 1, 4), GGMLType(27, "I64", 1, 8), GGMLType(28, "F64", 1, 8),
            GGMLType(29, "IQ1_M", 256, 56), bf16, GGMLType(34, "TQ1_0", 256, 54), GGMLType(35, "TQ2_0", 256, 66),
            GGMLType(39, "MXFP4", 32, 17),
        ]
        return Dictionary(uniqueKeysWithValues: all.map { ($0.rawValue, $0) })
    }()
}
