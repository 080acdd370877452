import Testing
@testable import Tokenization

@Suite struct SentencePieceTests {
    let tokenizer: Tokenizer
    let noPrefix: Tokenizer

    init() throws {
        tokenizer = try Tokenizer(vocabulary: TestVocabularies.sentencePiece())
        noPrefix = try Tokenizer(vocabulary: TestVocabularies.sentencePiece(addSpacePrefix: false))
    }

    @Test func mergesFollowScoresNotVocabularyContents() {
        // "▁world" is in the vocabulary, but no scored path reaches it ("▁worl" is missing).
        #expect(tokenizer.encode("hello world") == [1] + tokenizer.ids("▁hello", "▁wor", "l", "d"))
        #expect(tokenizer.decode(tokenizer.encode("hello world")) == " hello world")
    }

    @Test func higherScoreMergesFirstAndTiesGoLeft() {
        // "bc" (-0.5) beats "ab" (-1) although "ab" is further left.
        #expect(noPrefix.encode("abc", addSpecial: false) == noPrefix.ids("a", "bc"))
        // Equal scores: the leftmost pair merges first.
        #expect(noPrefix.encode("   ", addSpecial: false) == noPrefix.ids("▁▁", "▁"))
    }

    @Test func spacePrefixIsControlledByMetadata() {
        #expect(tokenizer.encode("hello", addSpecial: false) == tokenizer.ids("▁hello"))
        #expect(noPrefix.encode("hello", addSpecial: false) == noPrefix.ids("hello"))
        #expect(tokenizer.encode("", addSpecial: true) == [1])
        #expect(tokenizer.encode("", addSpecial: false) == [])
        #expect(tokenizer.addsBOS && tokenizer.bosID == 1)
    }

    @Test func unknownCharactersFallBackToByteTokens() {
        let ids = noPrefix.encode("é😀", addSpecial: false)
        let expected: [Int32] = [0xC3, 0xA9, 0xF0, 0x9F, 0x98, 0x80].map { Int32($0) + 3 }
        #expect(ids == expected)
        #expect(noPrefix.decode(ids) == "é😀")
        #expect(noPrefix.tokenBytes(3 + 0x41) == [0x41])
    }

    @Test func controlTokensAreMatchedOnlyWhenParsingSpecials() {
        let turn = tokenizer.id("<start_of_turn>")
        let parsed = tokenizer.encode("<start_of_turn>hello", addSpecial: true, parseSpecial: true)
        // After a special token the next fragment gets the space prefix again (llama.cpp).
        #expect(parsed == [1, turn] + tokenizer.ids("▁hello"))
        let literal = tokenizer.encode("<start_of_turn>hello", addSpecial: true, parseSpecial: false)
        #expect(!literal.contains(turn))
        #expect(tokenizer.decode(literal) == " <start_of_turn>hello")
        #expect(tokenizer.tokenBytes(turn).isEmpty)
        #expect(tokenizer.tokenBytes(turn, renderSpecial: true) == Array("<start_of_turn>".utf8))
    }

    @Test func userDefinedTokensAreAlwaysMatchedLongestFirst() {
        #expect(tokenizer.encode("a\n\nb", addSpecial: false)
                == tokenizer.ids("▁", "a", "\n\n", "▁", "b"))
        #expect(noPrefix.encode("<ab><cd><ab>", addSpecial: false) == noPrefix.ids("<ab><cd>", "<ab>"))
        #expect(noPrefix.decode(noPrefix.ids("<ab><cd>", "\n\n")) == "<ab><cd>\n\n")
    }

    @Test func endOfGenerationIdsFollowLlamaCpp() {
        #expect(tokenizer.eogIDs == [2, tokenizer.id("<end_of_turn>")])
        #expect(TestVocabularies.sentencePiece().eogIDs == tokenizer.eogIDs)
    }

    @Test func randomTextRoundTripsThroughByteFallback() {
        var rng = SplitMix64(state: 42)
        for _ in 0..<300 {
            let length = Int.random(in: 0..<30, using: &rng)
            var text = ""
            for _ in 0..<length {
                let value = UInt32.random(in: 1...0x2FFFF, using: &rng)
                if let scalar = Unicode.Scalar(value), value != 0x2581 { text.unicodeScalars.append(scalar) }
            }
            let ids = noPrefix.encode(text, addSpecial: false)
            #expect(noPrefix.decode(ids) == text, "\(text.debugDescription)")
        }
    }
}
