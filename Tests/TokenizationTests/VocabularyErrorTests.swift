import Testing
@testable import Tokenization

@Suite struct VocabularyErrorTests {
    @Test func rejectsUnusableVocabularies() {
        #expect(throws: TokenizationError.emptyVocabulary) {
            try Tokenizer(vocabulary: TokenizerVocabulary(model: .llama, tokens: []))
        }
        var noMerges = TestVocabularies.bytePair()
        noMerges.merges = nil
        #expect(throws: TokenizationError.missingMerges(model: "gpt2")) { try Tokenizer(vocabulary: noMerges) }
        #expect(throws: TokenizationError.unsupportedPreTokenizer("tekken")) {
            try Tokenizer(vocabulary: TestVocabularies.bytePair(pre: "tekken"))
        }
        var shortScores = TestVocabularies.sentencePiece()
        shortScores.scores = [0, 0]
        #expect(throws: TokenizationError.arrayLengthMismatch(key: "tokenizer.ggml.scores", count: 2,
                                                               expected: shortScores.tokens.count)) {
            try Tokenizer(vocabulary: shortScores)
        }
        #expect(throws: TokenizationError.duplicateToken(text: "a", firstID: 0, secondID: 2)) {
            try Tokenizer(vocabulary: TokenizerVocabulary(model: .llama, tokens: ["a", "b", "a"]))
        }
        var bosMissing = TokenizerVocabulary(model: .gpt2, pre: "gpt-2", tokens: ["a", "b"], merges: [])
        bosMissing.addBOS = true
        #expect(throws: TokenizationError.missingSpecialToken(key: "tokenizer.ggml.bos_token_id")) {
            try Tokenizer(vocabulary: bosMissing)
        }
        #expect(TokenizationError.missingMerges(model: "gpt2").description.contains("tokenizer.ggml.merges"))
    }

    @Test func tokenTextsCompareAsBytesNotCanonicalEquivalence() throws {
        // "é" precomposed and decomposed are equal Swift Strings but distinct tokens.
        let v = TokenizerVocabulary(model: .llama, tokens: ["<unk>", "<s>", "</s>", "\u{E9}", "e\u{301}"],
                                    addSpacePrefix: false)
        let t = try Tokenizer(vocabulary: v)
        #expect(t.encode("\u{E9}", addSpecial: false) == [3])
        #expect(t.encode("e\u{301}", addSpecial: false) == [4])
    }

    @Test func garbageNeverCrashes() throws {
        let spm = try Tokenizer(vocabulary: TestVocabularies.sentencePiece(addSpacePrefix: false))
        let bpe = try Tokenizer(vocabulary: TestVocabularies.bytePair(pre: "llama3"))
        for t in [spm, bpe] {
            #expect(t.decode([-1, Int32.min, Int32.max, Int32(t.vocabularySize)]) == "")
            #expect(t.tokenBytes(-7).isEmpty && t.tokenText(-1) == nil)
            #expect(t.encode("", addSpecial: false).isEmpty)
            let nasty = "\u{0}\u{FFFD}\u{10FFFF}\u{FEFF}\r\r\n \u{2028}'''sS\u{301}\u{301}"
            #expect(t.decode(t.encode(nasty, addSpecial: false)) == nasty)
        }
        // A vocabulary without byte tokens: unencodable characters become <unk> or vanish.
        let bare = try Tokenizer(vocabulary: TokenizerVocabulary(model: .llama, tokens: ["<unk>", "<s>", "</s>", "▁a"]))
        #expect(bare.encode("a 😀", addSpecial: false) == [3] + [Int32](repeating: 0, count: 7))
        let noUnknown = try Tokenizer(vocabulary: TokenizerVocabulary(model: .llama, tokens: ["x", "<s>", "</s>"],
                                                                        unknownID: nil, addBOS: false))
        // llama.cpp defaults <unk> to id 0 for SentencePiece, whatever its text.
        #expect(noUnknown.encode("yx") == [0, 0, 0, 0, 0])
    }
}
