import Foundation
@testable import Tokenization

/// Small hand-made vocabularies with known encodings.
enum TestVocabularies {
    /// A SentencePiece vocabulary: <unk>, <s>, </s>, 256 byte tokens, a control and a
    /// user-defined token, then scored pieces.
    static func sentencePiece(addSpacePrefix: Bool? = nil, extra: [(String, Float)] = []) -> TokenizerVocabulary {
        var tokens = ["<unk>", "<s>", "</s>"]
        var types: [Int32] = [2, 3, 3]
        var scores: [Float] = [0, 0, 0]
        for b in 0..<256 {
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
            ("a", -2), ("b", -2), ("c", -2), ("\n", -2),
            ("he", -3), ("ll", -3), ("hell", -4), ("hello", -5), ("▁hello", -6),
            ("▁w", -3), ("or", -3), ("▁wor", -4), ("▁world", -5),
            ("ab", -1), ("bc", -0.5), ("▁▁", -3),
        ] + extra
        for (text, score) in pieces {
            tokens.append(text)
            types.append(1)
            scores.append(score)
        }
        return TokenizerVocabulary(model: .llama, tokens: tokens, scores: scores, tokenTypes: types,
                                   bosID: 1, eosID: 2, unknownID: 0, addSpacePrefix: addSpacePrefix)
    }

    /// A byte-level BPE vocabulary: every byte character, a few merges, and special tokens.
    static func bytePair(pre: String? = "gpt-2", extraTokens: [String] = []) -> TokenizerVocabulary {
        var tokens = ByteLevelEncoding.byteToUTF8.map { String(decoding: $0, as: UTF8.self) }
        let merges = [
            "h e", "l l", "Ġ w", "he ll", "hell o", "Ġw o", "o r", "Ġwo r", "Ġwor l", "Ġworl d",
            "1 2", "12 3", "a b", "b c",
        ]
        for merge in merges {
            let merged = merge.replacingOccurrences(of: " ", with: "")
            if !tokens.contains(merged) { tokens.append(merged) }
        }
        tokens += ["<|endoftext|>", "<|im_start|>", "<|im_end|>"] + extraTokens
        var types = [Int32](repeating: 1, count: tokens.count)
        for special in ["<|endoftext|>", "<|im_start|>", "<|im_end|>"] {
            if let i = tokens.firstIndex(of: special) { types[i] = 3 }
        }
        return TokenizerVocabulary(model: .gpt2, pre: pre, tokens: tokens, tokenTypes: types, merges: merges,
                                   bosID: tokens.firstIndex(of: "<|endoftext|>").map(Int32.init),
                                   eosID: tokens.firstIndex(of: "<|im_end|>").map(Int32.init))
    }
}

extension Tokenizer {
    /// Id of a token text, for readable expectations.
    func id(_ text: String) -> Int32 {
        for i in 0..<vocabularySize where tokenText(Int32(i)) == text { return Int32(i) }
        return -1
    }

    func ids(_ texts: String...) -> [Int32] { texts.map { id($0) } }
}

/// Deterministic generator for fuzz-style tests.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
