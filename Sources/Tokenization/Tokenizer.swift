// Text ↔ token ids for a GGUF vocabulary, matching llama.cpp's `llama_tokenize` and
// `llama_token_to_piece` (src/llama-vocab.cpp, `llama_vocab::impl::tokenize` and
// `token_to_piece`). Token texts are compared as bytes, never as Swift `String`s, because
// `String` equality is canonical equivalence and the vocabularies hold NFC/NFD twins.

import Foundation

/// Encodes text to token ids and decodes ids back to bytes, exactly as llama.cpp does for the
/// same GGUF vocabulary. Immutable after `init`, so one instance serves all requests.
public final class Tokenizer: Sendable {
    enum Algorithm: Sendable {
        case sentencePiece(SentencePieceEncoder)
        case bytePair(BytePairEncoder, PreTokenizer)
    }

    let model: TokenizerVocabulary.Model
    let algorithm: Algorithm
    /// Token text bytes by id.
    let texts: [[UInt8]]
    let attributes: [TokenAttributes]
    let specials: SpecialTokenMatcher
    let addSpacePrefix: Bool

    /// Number of token ids (`tokenizer.ggml.tokens` count).
    public let vocabularySize: Int
    /// Beginning-of-sequence id (metadata, else llama.cpp's default for the model type).
    public let bosID: Int32?
    /// End-of-sequence id (metadata, else llama.cpp's default for the model type).
    public let eosID: Int32?
    /// Unknown-token id, used where a byte has no token of its own.
    public let unknownID: Int32?
    /// Ids that end generation (EOS, EOT, `<end_of_turn>`, `<|im_end|>`, ...).
    public let eogIDs: Set<Int32>
    /// Whether `encode(_:addSpecial: true)` starts with BOS.
    public let addsBOS: Bool
    /// Whether `encode(_:addSpecial: true)` ends with EOS.
    public let addsEOS: Bool

    /// Builds the lookup tables; throws when the vocabulary is unusable (empty, duplicate
    /// tokens, short per-token arrays, missing merges, unknown pre-tokenizer).
    public init(vocabulary v: TokenizerVocabulary) throws {
        let count = v.tokens.count
        guard count > 0 else { throw TokenizationError.emptyVocabulary }
        if let scores = v.scores, scores.count < count {
            throw TokenizationError.arrayLengthMismatch(key: "tokenizer.ggml.scores", count: scores.count, expected: count)
        }
        if let types = v.tokenTypes, types.count < count {
            throw TokenizationError.arrayLengthMismatch(key: "tokenizer.ggml.token_type", count: types.count, expected: count)
        }

        var texts: [[UInt8]] = []
        texts.reserveCapacity(count)
        var ids: [[UInt8]: Int32] = [:]
        ids.reserveCapacity(count)
        for (index, token) in v.tokens.enumerated() {
            // llama.cpp renames empty tokens so that they can never match.
            let bytes = token.isEmpty ? Array("[EMPTY_\(index)]".utf8) : Array(token.utf8)
            if let first = ids.updateValue(Int32(index), forKey: bytes) {
                throw TokenizationError.duplicateToken(text: token, firstID: first, secondID: Int32(index))
            }
            texts.append(bytes)
        }

        let rules = SpecialTokenRules(vocabulary: v)
        model = v.model
        self.texts = texts
        attributes = rules.attributes
        vocabularySize = count
        bosID = rules.bosID
        eosID = rules.eosID
        unknownID = rules.unknownID
        eogIDs = rules.eogIDs

        switch v.model {
        case .llama:
            algorithm = .sentencePiece(SentencePieceEncoder(
                tokenIDs: ids, scores: v.scores ?? [Float](repeating: 0, count: count), unknownID: rules.unknownID))
            addSpacePrefix = v.addSpacePrefix ?? true
            addsBOS = v.addBOS ?? true
        case .gpt2:
            guard let merges = v.merges else { throw TokenizationError.missingMerges(model: v.model.rawValue) }
            guard let pre = PreTokenizer(name: v.pre) else {
                throw TokenizationError.unsupportedPreTokenizer(v.pre ?? "")
            }
            algorithm = .bytePair(BytePairEncoder(tokenIDs: ids, merges: merges, ignoreMerges: pre.ignoresMerges), pre)
            addSpacePrefix = v.addSpacePrefix ?? false
            addsBOS = v.addBOS ?? pre.addsBOSByDefault
        }
        addsEOS = v.addEOS ?? false
        if addsBOS, bosID == nil { throw TokenizationError.missingSpecialToken(key: "tokenizer.ggml.bos_token_id") }
        if addsEOS, eosID == nil { throw TokenizationError.missingSpecialToken(key: "tokenizer.ggml.eos_token_id") }

        specials = SpecialTokenMatcher(texts: texts, attributes: rules.attributes)
    }

    /// Token ids for `text`, with llama.cpp `llama_tokenize(text, add_special, parse_special)`
    /// semantics: `addSpecial` adds BOS/EOS as the vocabulary asks; `parseSpecial` lets control
    /// tokens such as `<start_of_turn>` written in the text become their ids (user-defined
    /// tokens are always matched).
    public func encode(_ text: String, addSpecial: Bool = true, parseSpecial: Bool = false) -> [Int32] {
        encode(text, addSpecial: addSpecial, specialTokensIn: parseSpecial ? [0..<text.utf8.count] : [])
    }

    /// A rendered chat prompt's ids: control tokens are parsed only in the template's markup, so
    /// special-token text inside a message (`<end_of_turn>`) stays text and cannot forge a turn.
    /// For content without such text the ids equal `encode(chat.text, parseSpecial: true)`.
    public func encode(_ chat: ChatPrompt, addSpecial: Bool = true) -> [Int32] {
        encode(chat.text, addSpecial: addSpecial, specialTokensIn: chat.markup)
    }

    /// `encode` with control tokens parsed only where their whole text lies inside one of
    /// `ranges` (UTF-8 byte offsets into `text`).
    public func encode(_ text: String, addSpecial: Bool, specialTokensIn ranges: [Range<Int>]) -> [Int32] {
        let bytes = Array(text.utf8)
        let fragments = bytes.isEmpty ? [] : specials.partition(bytes, specialIn: ranges)
        var output: [Int32] = []
        if addSpecial, addsBOS, let bosID { output.append(bosID) }

        switch algorithm {
        case .sentencePiece(let encoder):
            var previousWasSpecial = true
            for fragment in fragments {
                switch fragment {
                case .token(let id):
                    output.append(id)
                    previousWasSpecial = true
                case .text(let range):
                    var escaped: [UInt8] = []
                    escaped.reserveCapacity(range.count + 3)
                    if addSpacePrefix, previousWasSpecial { escaped.append(contentsOf: Self.spaceMarker) }
                    for byte in bytes[range] {
                        if byte == 0x20 { escaped.append(contentsOf: Self.spaceMarker) } else { escaped.append(byte) }
                    }
                    encoder.encode(escaped, into: &output)
                    previousWasSpecial = false
                }
            }
        case .bytePair(let encoder, let pre):
            for fragment in fragments {
                switch fragment {
                case .token(let id):
                    output.append(id)
                case .text(let range):
                    let scalars = Array(String(decoding: bytes[range], as: UTF8.self).unicodeScalars)
                    for word in pre.split(scalars) {
                        var raw: [UInt8] = []
                        for scalar in scalars[word] { raw.append(contentsOf: String(scalar).utf8) }
                        encoder.encode(word: ByteLevelEncoding.encode(raw), into: &output)
                    }
                }
            }
        }

        if addSpecial, addsEOS, let eosID { output.append(eosID) }
        return output
    }

    /// The bytes token `id` stands for, as llama.cpp `llama_token_to_piece` renders it: `▁`
    /// becomes a space (SentencePiece), `<0xNN>` becomes that byte, byte-level BPE text is
    /// mapped back to bytes. Control and unknown tokens render empty unless `renderSpecial`;
    /// an id outside the vocabulary renders empty.
    public func tokenBytes(_ id: Int32, renderSpecial: Bool = false) -> [UInt8] {
        guard id >= 0, Int(id) < texts.count else { return [] }
        let attr = attributes[Int(id)]
        let text = texts[Int(id)]
        if attr.contains(.control) || attr.contains(.unknown) {
            return renderSpecial ? text : []
        }
        if attr.contains(.userDefined) { return text }
        if attr.contains(.normal) {
            switch model {
            case .llama: return Self.unescapeSpaces(text)
            case .gpt2: return ByteLevelEncoding.decode(String(decoding: text, as: UTF8.self))
            }
        }
        if attr.contains(.byte) { return Self.byteValue(text).map { [$0] } ?? [] }
        return []
    }

    /// Text of `ids` for display: the pieces' bytes joined and decoded as UTF-8, with invalid
    /// sequences replaced by U+FFFD. Ids outside the vocabulary are skipped.
    public func decode(_ ids: [Int32], renderSpecial: Bool = false) -> String {
        var bytes: [UInt8] = []
        for id in ids { bytes.append(contentsOf: tokenBytes(id, renderSpecial: renderSpecial)) }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Whether `id` ends generation.
    public func isEndOfGeneration(_ id: Int32) -> Bool { eogIDs.contains(id) }

    /// The raw token text of `id` as stored in the vocabulary, or nil when out of range.
    public func tokenText(_ id: Int32) -> String? {
        guard id >= 0, Int(id) < texts.count else { return nil }
        return String(decoding: texts[Int(id)], as: UTF8.self)
    }

    static let spaceMarker: [UInt8] = [0xE2, 0x96, 0x81]

    static func unescapeSpaces(_ text: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(text.count)
        var i = 0
        while i < text.count {
            if i + 2 < text.count, text[i] == 0xE2, text[i + 1] == 0x96, text[i + 2] == 0x81 {
                out.append(0x20)
                i += 3
            } else {
                out.append(text[i])
                i += 1
            }
        }
        return out
    }

    /// `<0xNN>` → NN (llama.cpp `token_to_byte` reads the two hex digits after `<0x`).
    static func byteValue(_ text: [UInt8]) -> UInt8? {
        guard text.count >= 5 else { return nil }
        return UInt8(String(decoding: text[3..<5], as: UTF8.self), radix: 16)
    }
}
