// The tokenizer vocabulary as a GGUF file stores it under `tokenizer.ggml.*`.
// Reference: llama.cpp `src/llama-vocab.cpp` (`llama_vocab::impl::load`), which decides the
// defaults applied here when a key is absent.

/// Everything a `Tokenizer` needs, copied out of a GGUF file's `tokenizer.ggml.*` metadata.
///
/// Optional fields are `nil` when the key is absent; `Tokenizer` then applies llama.cpp's
/// defaults for the model type (for example `add_space_prefix` defaults to true for SentencePiece).
public struct TokenizerVocabulary: Sendable {
    /// `tokenizer.ggml.model`: which encoding algorithm the vocabulary belongs to.
    public enum Model: String, Sendable {
        /// SentencePiece BPE with byte fallback (LLaMA 1/2, Gemma 1–3, Mistral v1).
        case llama
        /// GPT-2 style byte-level BPE with ranked merges (LLaMA 3, Qwen 2, GPT-2).
        case gpt2
    }

    /// `tokenizer.ggml.model`.
    public var model: Model
    /// `tokenizer.ggml.pre`: names the pre-tokenizer split rules of a byte-level BPE vocabulary.
    public var pre: String?
    /// `tokenizer.ggml.tokens`: the piece text of every token id.
    public var tokens: [String]
    /// `tokenizer.ggml.scores`: SentencePiece merge priorities (higher merges first).
    public var scores: [Float]?
    /// `tokenizer.ggml.token_type`: 1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte.
    public var tokenTypes: [Int32]?
    /// `tokenizer.ggml.merges`: byte-level BPE merges as `"left right"`, highest priority first.
    public var merges: [String]?
    /// `tokenizer.ggml.bos_token_id`.
    public var bosID: Int32?
    /// `tokenizer.ggml.eos_token_id`.
    public var eosID: Int32?
    /// `tokenizer.ggml.unknown_token_id`.
    public var unknownID: Int32?
    /// `tokenizer.ggml.padding_token_id`.
    public var paddingID: Int32?
    /// `tokenizer.ggml.eot_token_id`.
    public var eotID: Int32?
    /// `tokenizer.ggml.eom_token_id`.
    public var eomID: Int32?
    /// `tokenizer.ggml.add_bos_token`.
    public var addBOS: Bool?
    /// `tokenizer.ggml.add_eos_token`.
    public var addEOS: Bool?
    /// `tokenizer.ggml.add_space_prefix`.
    public var addSpacePrefix: Bool?

    /// Creates a vocabulary; only the model and the token list are required.
    public init(
        model: Model,
        pre: String? = nil,
        tokens: [String],
        scores: [Float]? = nil,
        tokenTypes: [Int32]? = nil,
        merges: [String]? = nil,
        bosID: Int32? = nil,
        eosID: Int32? = nil,
        unknownID: Int32? = nil,
        paddingID: Int32? = nil,
        eotID: Int32? = nil,
        eomID: Int32? = nil,
        addBOS: Bool? = nil,
        addEOS: Bool? = nil,
        addSpacePrefix: Bool? = nil
    ) {
        self.model = model
        self.pre = pre
        self.tokens = tokens
        self.scores = scores
        self.tokenTypes = tokenTypes
        self.merges = merges
        self.bosID = bosID
        self.eosID = eosID
        self.unknownID = unknownID
        self.paddingID = paddingID
        self.eotID = eotID
        self.eomID = eomID
        self.addBOS = addBOS
        self.addEOS = addEOS
        self.addSpacePrefix = addSpacePrefix
    }

    /// End-of-generation token ids, derived the way llama.cpp derives them: EOS, EOT, EOM and
    /// every token whose text is a known end marker (`<end_of_turn>`, `<|im_end|>`, `<|eot_id|>`,
    /// `<|endoftext|>`, ...). Scans the whole token list; `Tokenizer` computes it once.
    public var eogIDs: Set<Int32> {
        SpecialTokenRules(vocabulary: self).eogIDs
    }
}
