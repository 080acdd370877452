import Tokenization

/// Small vocabularies built by the harness, after Tests/TokenizationTests/TestVocabularies.swift.
enum SyntheticVocabularies {
    /// (name, vocabulary, what round-trips): SentencePiece without and with the space prefix, then
    /// byte-level BPE under each pre-tokenizer family.
    static func all() -> [(String, TokenizerVocabulary, RoundTrip)] {
        [
            ("spm", sentencePiece(addSpacePrefix: false), .spaceMarkers),
            ("spm-prefix", sentencePiece(addSpacePrefix: true), .none),
            ("bpe-gpt2", bytePair(pre: "gpt-2"), .exact),
            ("bpe-llama3", bytePair(pre: "llama-bpe"), .exact),
            ("bpe-qwen2", bytePair(pre: "qwen2"), .exact),
            ("bpe-starcoder", bytePair(pre: "starcoder"), .exact),
            ("bpe-default", bytePair(pre: nil), .exact),
        ]
    }

    /// <unk>, <s>, </s>, 256 byte tokens, control and user-defined tokens, then scored pieces.
    static func sentencePiece(addSpacePrefix: Bool) -> TokenizerVocabulary {
        var tokens = ["<unk>", "<s>", "</s>"]
        var types: [Int32] = [2, 3, 3]
        var scores: [Float] = [0, 0, 0]
        for b in 0 ..< 256 {
            let hex = String(b, radix: 16, uppercase: true)
            tokens.append("<0x" + (hex.count == 1 ? "0" + hex : hex) + ">")
            types.append(6)
            scores.append(0)
        }
        let specials: [(String, Int32)] = [("<start_of_turn>", 3), ("<end_of_turn>", 3), ("\n\n", 4), ("<ab>", 4), ("<ab><cd>", 4)]
        for (text, type) in specials {
            tokens.append(text)
            types.append(type)
            scores.append(0)
        }
        let pieces: [(String, Float)] = [
            ("▁", -1), ("h", -2), ("e", -2), ("l", -2), ("o", -2), ("w", -2), ("r", -2), ("d", -2),
            ("a", -2), ("b", -2), ("c", -2), ("\n", -2), ("é", -2), ("日", -2),
            ("he", -3), ("ll", -3), ("hell", -4), ("hello", -5), ("▁hello", -6),
            ("▁w", -3), ("or", -3), ("▁wor", -4), ("▁world", -5),
            ("ab", -1), ("bc", -0.5), ("▁▁", -3), ("日本", -2), ("<a", -1),
        ]
        for (text, score) in pieces {
            tokens.append(text)
            types.append(1)
            scores.append(score)
        }
        return TokenizerVocabulary(model: .llama, tokens: tokens, scores: scores, tokenTypes: types,
                                   bosID: 1, eosID: 2, unknownID: 0, addEOS: true, addSpacePrefix: addSpacePrefix)
    }

    /// Every byte character of GPT-2's alphabet, a few merges, and control tokens.
    static func bytePair(pre: String?) -> TokenizerVocabulary {
        var tokens = byteAlphabet()
        let merges = [
            "h e", "l l", "Ġ w", "he ll", "hell o", "Ġw o", "o r", "Ġwo r", "Ġwor l", "Ġworl d",
            "1 2", "12 3", "a b", "b c", "Ċ Ċ", "Ġ Ġ", "Ã ©",
        ]
        for merge in merges {
            let merged = String(merge.unicodeScalars.filter { $0 != " " })
            if !tokens.contains(merged) { tokens.append(merged) }
        }
        tokens += ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<tool>"]
        var types = [Int32](repeating: 1, count: tokens.count)
        for (i, t) in tokens.enumerated() where t.hasPrefix("<|") { types[i] = 3 }
        types[types.count - 1] = 4
        return TokenizerVocabulary(model: .gpt2, pre: pre, tokens: tokens, tokenTypes: types, merges: merges,
                                   bosID: tokens.firstIndex(of: "<|endoftext|>").map(Int32.init),
                                   eosID: tokens.firstIndex(of: "<|im_end|>").map(Int32.init))
    }

    /// GPT-2's `bytes_to_unicode`: printable Latin-1 bytes stand for themselves, the other 68
    /// bytes for U+0100, U+0101, ... in byte order.
    static func byteAlphabet() -> [String] {
        var next: UInt32 = 256
        return (0 ..< 256).map { (b: UInt32) -> String in
            let printable = (0x21 ... 0x7E).contains(b) || (0xA1 ... 0xAC).contains(b) || (0xAE ... 0xFF).contains(b)
            let value = printable ? b : next
            if !printable { next += 1 }
            return Unicode.Scalar(value).map { String(Character($0)) } ?? "?"
        }
    }
}
