// Special-token ids, token attributes and end-of-generation ids, following llama.cpp
// `llama_vocab::impl::load` (src/llama-vocab.cpp): defaults per model type, metadata
// overrides that are range-checked, and the text-based detection of EOT/EOM/FIM/EOG tokens.

/// What llama.cpp calls `llama_token_attr`: how a token is matched in text and rendered.
struct TokenAttributes: OptionSet, Sendable {
    let rawValue: UInt16
    static let undefined = TokenAttributes(rawValue: 1 << 0)
    static let unknown = TokenAttributes(rawValue: 1 << 1)
    static let unused = TokenAttributes(rawValue: 1 << 2)
    static let normal = TokenAttributes(rawValue: 1 << 3)
    static let control = TokenAttributes(rawValue: 1 << 4)
    static let userDefined = TokenAttributes(rawValue: 1 << 5)
    static let byte = TokenAttributes(rawValue: 1 << 6)

    /// GGUF `tokenizer.ggml.token_type` value → attributes.
    init(tokenType: Int32) {
        switch tokenType {
        case 1: self = .normal
        case 2: self = .unknown
        case 3: self = .control
        case 4: self = .userDefined
        case 5: self = .unused
        case 6: self = .byte
        default: self = .undefined
        }
    }

    init(rawValue: UInt16) { self.rawValue = rawValue }
}

/// The resolved special ids and attributes of a vocabulary.
struct SpecialTokenRules: Sendable {
    var attributes: [TokenAttributes]
    var bosID: Int32?
    var eosID: Int32?
    var eotID: Int32?
    var eomID: Int32?
    var unknownID: Int32?
    var paddingID: Int32?
    var eogIDs: Set<Int32>

    init(vocabulary v: TokenizerVocabulary) {
        let count = v.tokens.count
        func inRange(_ id: Int32?) -> Int32? {
            guard let id, id >= 0, Int(id) < count else { return nil }
            return id
        }
        // Metadata wins when it names a valid id; otherwise the (range-checked) default stays.
        func resolve(_ metadata: Int32?, default fallback: Int32?) -> Int32? {
            inRange(metadata) ?? inRange(fallback)
        }

        var attributes = [TokenAttributes](repeating: .normal, count: count)
        if let types = v.tokenTypes {
            for i in 0..<min(count, types.count) {
                attributes[i] = TokenAttributes(tokenType: types[i])
            }
        }

        switch v.model {
        case .llama:
            bosID = resolve(v.bosID, default: 1)
            eosID = resolve(v.eosID, default: 2)
            unknownID = resolve(v.unknownID, default: 0)
        case .gpt2:
            bosID = resolve(v.bosID, default: 11)
            eosID = resolve(v.eosID, default: 11)
            unknownID = resolve(v.unknownID, default: nil)
        }
        paddingID = resolve(v.paddingID, default: nil)
        eotID = inRange(v.eotID)
        eomID = inRange(v.eomID)

        var fimPad: Int32?
        var fimRep: Int32?
        var fimSep: Int32?
        var fimPre: Int32?
        var fimSuf: Int32?
        var fimMid: Int32?

        func markControl(_ id: Int) {
            attributes[id].insert(.control)
        }

        for (index, text) in v.tokens.enumerated() {
            let id = Int32(index)
            if eotID == nil, Self.eotTexts.contains(text) {
                eotID = id
                markControl(index)
            }
            if eomID == nil, text == "<|eom_id|>" {
                eomID = id
                markControl(index)
            }
            if fimPre == nil, Self.fimPreTexts.contains(text) { fimPre = id; markControl(index) }
            if fimSuf == nil, Self.fimSufTexts.contains(text) { fimSuf = id; markControl(index) }
            if fimMid == nil, Self.fimMidTexts.contains(text) { fimMid = id; markControl(index) }
            if fimPad == nil, Self.fimPadTexts.contains(text) { fimPad = id; markControl(index) }
            if fimRep == nil, Self.fimRepTexts.contains(text) { fimRep = id; markControl(index) }
            if fimSep == nil, text == "<|file_sep|>" { fimSep = id; markControl(index) }
        }

        var eog = Set<Int32>()
        for id in [fimPad, fimRep, fimSep] {
            if let id { eog.insert(id) }
        }
        for (index, text) in v.tokens.enumerated() where Self.eogTexts.contains(text) {
            eog.insert(Int32(index))
            markControl(index)
        }
        // gpt-oss: these are always rendered.
        for (index, text) in v.tokens.enumerated() where Self.alwaysRenderedTexts.contains(text) {
            attributes[index] = .userDefined
        }
        for id in [eosID, eotID, eomID] {
            if let id { eog.insert(id) }
        }

        // o200k_harmony / solar-open: "<|end|>" ends a message, not the generation.
        let eogTexts = Set(eog.map { v.tokens[Int($0)] })
        if eogTexts.contains("<|end|>"),
           (eogTexts.contains("<|return|>") && (eogTexts.contains("<|call|>") || eogTexts.contains("<|calls|>")))
            || ((eogTexts.contains("<|call|>") || eogTexts.contains("<|calls|>")) && eogTexts.contains("<|flush|>")),
           let end = eog.first(where: { v.tokens[Int($0)] == "<|end|>" }) {
            eog.remove(end)
            attributes[Int(end)] = .userDefined
        }
        // Gemma 4 / PaddleOCR: "</s>" is not an end of generation when "<|tool_response>" exists.
        if eogTexts.contains("<|tool_response>"),
           let s = eog.first(where: { v.tokens[Int($0)] == "</s>" }) {
            eog.remove(s)
            attributes[Int(s)] = .normal
        }

        self.attributes = attributes
        self.eogIDs = eog
    }

    static let eotTexts: Set<String> = [
        "<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|end_of_text|>",
        "<EOT>", "_<EOT>", "[EOT]", "<｜end▁of▁sentence｜>", "<end_of_utterance>",
    ]
    static let fimPreTexts: Set<String> = [
        "<|fim_prefix|>", "<fim-prefix>", "<fim_prefix>", "<｜fim▁begin｜>", "<PRE>", "▁<PRE>",
        "<|code_prefix|>", "<|prefix|>",
    ]
    static let fimSufTexts: Set<String> = [
        "<|fim_suffix|>", "<fim-suffix>", "<fim_suffix>", "<｜fim▁hole｜>", "<SUF>", "▁<SUF>",
        "<|code_suffix|>", "<|suffix|>",
    ]
    static let fimMidTexts: Set<String> = [
        "<|fim_middle|>", "<fim-middle>", "<fim_middle>", "<｜fim▁end｜>", "<MID>", "▁<MID>",
        "<|code_middle|>", "<|middle|>",
    ]
    static let fimPadTexts: Set<String> = ["<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>", "[PAD]"]
    static let fimRepTexts: Set<String> = ["<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>", "<reponame>"]
    static let eogTexts: Set<String> = [
        "<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>", "<|flush|>", "<|calls|>",
        "<end_of_turn>", "<|endoftext|>", "</s>", "<|eom_id|>", "<EOT>", "_<EOT>", "[EOT]", "[EOS]",
        "<|end_of_text|>", "<end_of_utterance>", "<eos>", "<turn|>", "<|tool_response>",
        "<｜end▁of▁sentence｜>", "[e~[",
    ]
    static let alwaysRenderedTexts: Set<String> = ["<|channel|>", "<|message|>", "<|start|>", "<|constrain|>"]
}
