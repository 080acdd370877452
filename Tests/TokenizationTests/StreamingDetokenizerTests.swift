import Testing
@testable import Tokenization

@Suite struct StreamingDetokenizerTests {
    @Test func holdsBackSplitCharactersUntilComplete() throws {
        let t = try Tokenizer(vocabulary: TestVocabularies.sentencePiece(addSpacePrefix: false))
        let ids = t.encode("a😀é", addSpecial: false)
        #expect(ids.count == 7)  // "a" + 4 emoji bytes + 2 bytes of é
        var stream = StreamingDetokenizer(tokenizer: t)
        let pieces = ids.map { stream.append($0) }
        #expect(pieces == ["a", "", "", "", "😀", "", "é"])
        #expect(stream.flush() == "")
    }

    @Test func flushTurnsAnUnfinishedTailIntoReplacement() throws {
        let t = try Tokenizer(vocabulary: TestVocabularies.sentencePiece(addSpacePrefix: false))
        var stream = StreamingDetokenizer(tokenizer: t)
        #expect(stream.append(3 + 0xF0) == "")
        #expect(stream.append(3 + 0x9F) == "")
        #expect(stream.flush() == "\u{FFFD}")
        #expect(stream.flush() == "")
    }

    @Test func invalidBytesAreNotHeldForever() throws {
        let t = try Tokenizer(vocabulary: TestVocabularies.sentencePiece(addSpacePrefix: false))
        var stream = StreamingDetokenizer(tokenizer: t)
        #expect(stream.append(3 + 0xE2) == "")
        #expect(stream.append(t.id("a")) == "\u{FFFD}a")
        #expect(stream.append(3 + 0x80) == "\u{FFFD}")  // a lone continuation byte
        #expect(stream.append(-1) == "" && stream.append(Int32.max) == "")
    }

    @Test func matchesDecodeForWholeSequences() throws {
        let t = try Tokenizer(vocabulary: TestVocabularies.bytePair(pre: "llama-bpe"))
        let text = "héllo wörld 日本 🤖!\n  x"
        let ids = t.encode(text, addSpecial: false)
        var stream = StreamingDetokenizer(tokenizer: t)
        var streamed = ids.map { stream.append($0) }.joined()
        streamed += stream.flush()
        #expect(streamed == text)
        #expect(t.decode(ids) == text)
    }
}
