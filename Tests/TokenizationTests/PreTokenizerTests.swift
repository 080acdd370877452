import Testing
@testable import Tokenization

@Suite struct PreTokenizerTests {
    @Test func splitsMatchPythonRegexTable() {
        var failures: [String] = []
        for entry in preTokenizerSplitTable {
            let scalars = Array(entry.text.unicodeScalars)
            let words = entry.pre.split(scalars).map { range in
                String(String.UnicodeScalarView(scalars[range]))
            }
            if words != entry.words {
                failures.append("\(entry.pre) \(entry.text.debugDescription): got \(words) expected \(entry.words)")
            }
        }
        #expect(failures.isEmpty, "\(failures.count) mismatches:\n\(failures.prefix(10).joined(separator: "\n"))")
        #expect(preTokenizerSplitTable.count > 400)
    }

    @Test func namesMapToLlamaCppFamilies() {
        #expect(PreTokenizer(name: "llama-bpe") == .llama3)
        #expect(PreTokenizer(name: "llama3") == .llama3)
        #expect(PreTokenizer(name: "qwen2") == .qwen2)
        #expect(PreTokenizer(name: "gpt-2") == .gpt2)
        #expect(PreTokenizer(name: "starcoder") == .digitsThenGPT2)
        #expect(PreTokenizer(name: "default") == .llamaDefault)
        #expect(PreTokenizer(name: nil) == .llamaDefault)
        #expect(PreTokenizer(name: "no-such-pre") == nil)
    }

    @Test func wordsAlwaysCoverTheInputExactly() {
        var rng = SplitMix64(state: 7)
        let alphabet = Array("aZ9 \t\n\r'’.,!é日😀½\u{00A0}\u{0301}".unicodeScalars)
        for pre in [PreTokenizer.llama3, .qwen2, .gpt2, .digitsThenGPT2, .llamaDefault] {
            for _ in 0..<200 {
                let length = Int.random(in: 0..<24, using: &rng)
                let scalars = (0..<length).map { _ in alphabet[Int.random(in: 0..<alphabet.count, using: &rng)] }
                let words = pre.split(scalars)
                var cursor = 0
                for word in words {
                    #expect(word.lowerBound == cursor && !word.isEmpty)
                    cursor = word.upperBound
                }
                #expect(cursor == scalars.count)
            }
        }
    }
}
