import GGUF

extension TokenizerVocabulary {
    /// Reads `tokenizer.ggml.*` from a GGUF file's metadata. Errors name the key that is missing
    /// or has the wrong type.
    public init(metadata m: GGUFMetadata) throws {
        let modelName = try m.string("tokenizer.ggml.model")
        guard let model = Model(rawValue: modelName) else {
            throw TokenizerGGUFError.unsupportedModel(modelName)
        }
        guard let tokens = try m.stringArray("tokenizer.ggml.tokens") else { throw GGUFError.missingKey("tokenizer.ggml.tokens") }
        func id(_ key: String) throws -> Int32? {
            guard let v = try m.optionalInteger(key) else { return nil }
            guard v >= 0, v < tokens.count else { throw TokenizerGGUFError.tokenIDOutOfRange(key: key, id: v, vocabularySize: tokens.count) }
            return Int32(v)
        }
        let scores = try m.floatArray("tokenizer.ggml.scores")
        let types = try m.integerArray("tokenizer.ggml.token_type")?.map { Int32(truncatingIfNeeded: $0) }
        if let scores, scores.count != tokens.count {
            throw TokenizerGGUFError.lengthMismatch(key: "tokenizer.ggml.scores", count: scores.count, vocabularySize: tokens.count)
        }
        if let types, types.count != tokens.count {
            throw TokenizerGGUFError.lengthMismatch(key: "tokenizer.ggml.token_type", count: types.count, vocabularySize: tokens.count)
        }
        self.init(
            model: model,
            pre: try m.optionalString("tokenizer.ggml.pre"),
            tokens: tokens,
            scores: scores,
            tokenTypes: types,
            merges: try m.stringArray("tokenizer.ggml.merges"),
            bosID: try id("tokenizer.ggml.bos_token_id"),
            eosID: try id("tokenizer.ggml.eos_token_id"),
            unknownID: try id("tokenizer.ggml.unknown_token_id"),
            paddingID: try id("tokenizer.ggml.padding_token_id"),
            eotID: try id("tokenizer.ggml.eot_token_id"),
            eomID: try id("tokenizer.ggml.eom_token_id"),
            addBOS: try m.optionalBool("tokenizer.ggml.add_bos_token"),
            addEOS: try m.optionalBool("tokenizer.ggml.add_eos_token"),
            addSpacePrefix: try m.optionalBool("tokenizer.ggml.add_space_prefix")
        )
    }
}

extension Tokenizer {
    /// The tokenizer stored in a GGUF file.
    public convenience init(gguf file: GGUFFile) throws {
        try self.init(vocabulary: TokenizerVocabulary(metadata: file.metadata))
    }
}

/// Problems with the tokenizer metadata of a GGUF file.
public enum TokenizerGGUFError: Error, CustomStringConvertible, Equatable {
    case unsupportedModel(String)
    case tokenIDOutOfRange(key: String, id: Int, vocabularySize: Int)
    case lengthMismatch(key: String, count: Int, vocabularySize: Int)

    public var description: String {
        switch self {
        case let .unsupportedModel(m): return "unsupported tokenizer.ggml.model '\(m)' (supported: llama, gpt2)"
        case let .tokenIDOutOfRange(k, id, n): return "\(k) = \(id) is outside the vocabulary (size \(n))"
        case let .lengthMismatch(k, c, n): return "\(k) has \(c) entries but the vocabulary has \(n) tokens"
        }
    }
}
