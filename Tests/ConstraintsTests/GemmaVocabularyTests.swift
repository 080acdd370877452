import Foundation
import GGUF
import Testing
import Tokenization

@testable import Constraints

/// Masks over the real Gemma 3 vocabulary (262,144 tokens, SentencePiece with byte fallback),
/// with the bytes exactly as pipeserve's detokenizer emits them. Prints mask timings (not
/// asserted: the numbers go into the review note).
@Suite(.serialized, .enabled(if: ProcessInfo.processInfo.environment["PIPESERVE_MODEL"] != nil, "PIPESERVE_MODEL not set"))
struct GemmaVocabularyTests {
    static let loaded: (Tokenizer, TokenVocabulary)? = {
        guard let path = ProcessInfo.processInfo.environment["PIPESERVE_MODEL"],
            let tokenizer = try? Tokenizer(gguf: try GGUFFile(path: path))
        else { return nil }
        let bytes = (0..<Int32(tokenizer.vocabularySize)).map { tokenizer.tokenBytes($0) }
        return (tokenizer, TokenVocabulary(tokenBytes: bytes, endOfGeneration: tokenizer.eogIDs))
    }()

    static let schema = #"""
        {"type":"object","properties":{
            "name":{"type":"string"},
            "age":{"type":"integer"},
            "tags":{"type":"array","items":{"type":"string"},"maxItems":5},
            "address":{"type":"object","properties":{"city":{"type":"string"},"zip":{"type":"string"}},
                       "required":["city","zip"],"additionalProperties":false}},
         "required":["name","age","tags","address"],"additionalProperties":false}
        """#

    /// Named prefixes of typical generation states.
    static let states: [(name: String, json: Bool, prefix: String)] = [
        ("schema: start", false, ""),
        ("schema: after a key", false, #"{"name":"#),
        ("schema: inside a string", false, #"{"name": "Ann Marie"#),
        ("schema: at a number", false, #"{"name": "Ann", "age": 4"#),
        ("schema: after a value", false, #"{"name": "Ann", "age": 42"#),
        ("schema: in an array of strings", false, #"{"name": "Ann", "age": 42, "tags": ["a", "b"#),
        ("json_object: start", true, ""),
        ("json_object: inside a nested string", true, #"{"notes": [{"text": "some te"#),
        ("json_object: after a nested object", true, #"{"a": [{"b": 1}"#),
        ("json_object: at a number", true, #"{"a": [1.5"#),
    ]

    @Test func vocabularyBytesMatchTheDetokenizer() throws {
        let (tokenizer, vocabulary) = try #require(Self.loaded)
        #expect(vocabulary.count == 262_144)
        // Byte-fallback and SentencePiece space tokens carry their output bytes.
        let newline = tokenizer.encode("\n", addSpecial: false)
        #expect(newline.count == 1 && Array(vocabulary.bytes(newline[0])) == [0x0A])
        let spaced = tokenizer.encode("hello world", addSpecial: false)
        #expect(spaced.map { Array(vocabulary.bytes($0)) }.joined().elementsEqual(Array(" hello world".utf8)) || spaced.map { Array(vocabulary.bytes($0)) }.joined().elementsEqual(Array("hello world".utf8)))
        for id in tokenizer.eogIDs { #expect(vocabulary.isEndOfGeneration(id)) }
        print("Gemma vocabulary: \(vocabulary.count) tokens, \(vocabulary.trieNodeCount) trie nodes, \(vocabulary.trie.tokens.count) tokens with bytes")
    }

    @Test func masksMatchATokenByTokenCheck() throws {
        let (_, vocabulary) = try #require(Self.loaded)
        let schemaGrammar = try ConstraintCompiler.jsonSchema(Self.schema, strict: true)
        let objectGrammar = try ConstraintCompiler.jsonObject()
        let schemaMasker = TokenMasker(grammar: schemaGrammar, vocabulary: vocabulary)
        let objectMasker = TokenMasker(grammar: objectGrammar, vocabulary: vocabulary)
        for entry in Self.states {
            let masker = entry.json ? objectMasker : schemaMasker
            var state = masker.grammar.start()
            let advanced = state.advance(Array(entry.prefix.utf8))
            #expect(advanced, "\(entry.name)")
            let mask = masker.mask(for: state)
            var mismatches: [Int32] = []
            for id in 0..<Int32(vocabulary.count) where mask.contains(id) != masker.allows(id, in: state) {
                mismatches.append(id)
            }
            #expect(mismatches.isEmpty, "\(entry.name): \(mismatches.prefix(10))")
            #expect(mask.allowedCount > 0, "\(entry.name)")
            for special in [Int32(0), 1, 2, 3] where !vocabulary.isEndOfGeneration(special) {
                #expect(!mask.contains(special), "special token \(special) allowed in \(entry.name)")
            }
            #expect(vocabulary.endOfGeneration.allSatisfy { mask.contains($0) == state.isAccepting })
        }
        // The plain trie walk agrees too (it is slow: two states).
        for entry in [Self.states[2], Self.states[8]] {
            let masker = entry.json ? objectMasker : schemaMasker
            var state = masker.grammar.start()
            _ = state.advance(Array(entry.prefix.utf8))
            #expect(masker.mask(for: state) == masker.referenceMask(for: state), "\(entry.name)")
        }
    }

    @Test func printMaskTimings() throws {
        let (_, vocabulary) = try #require(Self.loaded)
        let clock = ContinuousClock()
        func ms(_ duration: Duration) -> String {
            let value = Double(duration.components.seconds) * 1000 + Double(duration.components.attoseconds) / 1e15
            return String(format: "%.3f ms", value)
        }
        var compiled: CompiledGrammar?
        let compileTime = try clock.measure { compiled = try ConstraintCompiler.jsonSchema(Self.schema, strict: true) }
        let schemaGrammar = try #require(compiled)
        let objectGrammar = try ConstraintCompiler.jsonObject()
        print("compile: schema \(ms(compileTime)) (\(schemaGrammar.stateCount) states), json_object \(objectGrammar.stateCount) states")
        let rebuild = clock.measure {
            _ = TokenVocabulary(tokenBytes: (0..<Int32(vocabulary.count)).map { Array(vocabulary.bytes($0)) }, endOfGeneration: [])
        }
        print("vocabulary + trie build: \(ms(rebuild))")
        let schemaMasker = TokenMasker(grammar: schemaGrammar, vocabulary: vocabulary)
        let objectMasker = TokenMasker(grammar: objectGrammar, vocabulary: vocabulary)
        print("state | allowed | first mask (builds tables) | cached mask (median of 9) | allows(sampled) | reference walk")
        for entry in Self.states {
            let masker = entry.json ? objectMasker : schemaMasker
            var state = masker.grammar.start()
            _ = state.advance(Array(entry.prefix.utf8))
            var mask = TokenMask(count: 0)
            let cold = clock.measure { mask = masker.mask(for: state) }
            var warm: [Duration] = []
            for _ in 0..<9 { warm.append(clock.measure { mask = masker.mask(for: state) }) }
            let sampled = mask.allowedTokens[mask.allowedTokens.count / 2]
            var allowed = false
            let check = clock.measure { for _ in 0..<1000 { allowed = masker.allows(sampled, in: state) } }
            #expect(allowed)
            let reference = clock.measure { _ = masker.referenceMask(for: state) }
            print("\(entry.name) | \(mask.allowedCount) | \(ms(cold)) | \(ms(warm.sorted()[4])) | \(ms(check / 1000)) | \(ms(reference))")
        }
        let stats = schemaMasker.cacheStatistics
        print("schema masker cache: \(stats.states) states, \(stats.bytes / 1024) KiB")
    }
}
