/// Why a vocabulary cannot become a `Tokenizer`. Encoding and decoding never throw: every
/// string has an encoding and every id list has a (possibly lossy) decoding.
public enum TokenizationError: Error, CustomStringConvertible, Equatable {
    /// The token list is empty.
    case emptyVocabulary
    /// A byte-level BPE (`gpt2`) vocabulary without `tokenizer.ggml.merges`.
    case missingMerges(model: String)
    /// `tokenizer.ggml.pre` names split rules this tokenizer does not implement.
    case unsupportedPreTokenizer(String)
    /// A per-token array (`scores`, `token_type`) is shorter than the token list.
    case arrayLengthMismatch(key: String, count: Int, expected: Int)
    /// Two ids carry the same token text (llama.cpp rejects such a vocabulary too).
    case duplicateToken(text: String, firstID: Int32, secondID: Int32)
    /// `add_bos_token` / `add_eos_token` is set but the matching id is absent or out of range.
    case missingSpecialToken(key: String)

    public var description: String {
        switch self {
        case .emptyVocabulary:
            return "tokenizer.ggml.tokens is empty"
        case .missingMerges(let model):
            return "tokenizer.ggml.merges is missing, but tokenizer.ggml.model '\(model)' needs it"
        case .unsupportedPreTokenizer(let name):
            return "unsupported tokenizer.ggml.pre '\(name)'"
        case .arrayLengthMismatch(let key, let count, let expected):
            return "\(key) has \(count) entries, fewer than the \(expected) tokens"
        case .duplicateToken(let text, let first, let second):
            return "duplicate token \(text.debugDescription) at ids \(first) and \(second)"
        case .missingSpecialToken(let key):
            return "\(key) is required by the add flags but is missing or out of range"
        }
    }
}
