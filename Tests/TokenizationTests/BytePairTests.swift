import Testing
@testable import Tokenization

@Suite struct BytePairTests {
    @Test func mergesApplyByRankWithinWords() throws {
        let t = try Tokenizer(vocabulary: TestVocabularies.bytePair())
        #expect(t.encode("hello world") == t.ids("hello", "Ġworld"))
        #expect(t.encode("abc") == t.ids("ab", "c"))
        #expect(t.encode("hello world") == t.encode("hello world", addSpecial: false))
        #expect(!t.addsBOS)
    }

    @Test func digitGroupingFollowsThePreTokenizer() throws {
        let gpt2 = try Tokenizer(vocabulary: TestVocabularies.bytePair(pre: "gpt-2"))
        let llama3 = try Tokenizer(vocabulary: TestVocabularies.bytePair(pre: "llama-bpe"))
        let qwen2 = try Tokenizer(vocabulary: TestVocabularies.bytePair(pre: "qwen2"))
        #expect(gpt2.encode("12345") == gpt2.ids("123", "4", "5"))
        #expect(llama3.encode("12345", addSpecial: false) == llama3.ids("123", "4", "5"))
        #expect(qwen2.encode("12345") == qwen2.ids("1", "2", "3", "4", "5"))
        #expect(llama3.encode("1234567", addSpecial: false) == llama3.ids("123", "4", "5", "6", "7"))
    }

    @Test func llama3IgnoresMergesForWholeWordTokensAndAddsBOS() throws {
        let llama3 = try Tokenizer(vocabulary: TestVocabularies.bytePair(pre: "llama-bpe", extraTokens: ["Ġxyz"]))
        let gpt2 = try Tokenizer(vocabulary: TestVocabularies.bytePair(pre: "gpt-2", extraTokens: ["Ġxyz"]))
        #expect(llama3.addsBOS)
        #expect(llama3.encode(" xyz") == [llama3.id("<|endoftext|>"), llama3.id("Ġxyz")])
        #expect(gpt2.encode(" xyz") == gpt2.ids("Ġ", "x", "y", "z"))
    }

    @Test func controlTokensAndEndOfGeneration() throws {
        let t = try Tokenizer(vocabulary: TestVocabularies.bytePair(pre: "qwen2"))
        let start = t.id("<|im_start|>")
        let end = t.id("<|im_end|>")
        #expect(t.encode("<|im_start|>ab<|im_end|>", parseSpecial: true) == [start, t.id("ab"), end])
        let literal = t.encode("<|im_start|>ab<|im_end|>", parseSpecial: false)
        #expect(!literal.contains(start) && !literal.contains(end))
        #expect(t.decode(literal) == "<|im_start|>ab<|im_end|>")
        #expect(t.eogIDs == [t.id("<|endoftext|>"), end])
        #expect(t.isEndOfGeneration(end) && !t.isEndOfGeneration(start))
        #expect(t.decode([start, t.id("ab"), end]) == "ab")
        #expect(t.decode([start, t.id("ab"), end], renderSpecial: true) == "<|im_start|>ab<|im_end|>")
    }

    @Test func everyStringRoundTripsWithEveryPreTokenizer() throws {
        var rng = SplitMix64(state: 3)
        for pre in ["gpt-2", "llama-bpe", "qwen2", "starcoder", "default"] {
            let t = try Tokenizer(vocabulary: TestVocabularies.bytePair(pre: pre))
            for _ in 0..<200 {
                var text = ""
                for _ in 0..<Int.random(in: 0..<25, using: &rng) {
                    let value = Bool.random(using: &rng) ? UInt32.random(in: 0x20...0x7E, using: &rng)
                                                         : UInt32.random(in: 0...0x1FFFF, using: &rng)
                    if let scalar = Unicode.Scalar(value) { text.unicodeScalars.append(scalar) }
                }
                #expect(t.decode(t.encode(text, addSpecial: false)) == text, "\(pre) \(text.debugDescription)")
            }
        }
    }

    @Test func byteLevelAlphabetIsGPT2s() {
        #expect(String(decoding: ByteLevelEncoding.byteToUTF8[0x20], as: UTF8.self) == "Ġ")
        #expect(String(decoding: ByteLevelEncoding.byteToUTF8[0x0A], as: UTF8.self) == "Ċ")
        #expect(String(decoding: ByteLevelEncoding.byteToUTF8[0x41], as: UTF8.self) == "A")
        #expect(Set(ByteLevelEncoding.byteToUTF8).count == 256)
        #expect(ByteLevelEncoding.decode("ĠhelloĊ") == Array(" hello\n".utf8))
    }
}
