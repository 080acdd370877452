import Testing

@testable import Constraints

/// Masks against a small hand-made vocabulary: the cached tables must give exactly what a
/// token-by-token check and a plain trie walk give.
@Suite struct TokenMaskTests {
    /// Pieces a JSON-writing model might have, with shared prefixes and tokens that cross
    /// string and object boundaries. Id 0 is a control token (no bytes), id 1 end-of-generation.
    static let pieces: [String] = [
        "", "<eos>", "{", "}", "{\"", "\"", "\":", "\": ", "\",", "\", \"", "\"}", "\"}}", "}}", "},", "[", "]", "],", "[]",
        "[{", "}]", ",", ", ", ":", " ", "\n", "\n  ", "\n    ", "a", "ab", "abc", "name", "\"name", "\"name\":", "age",
        "\"age\":", "1", "12", "0", "-", ".", "e", "e+", "5,", "5}", "true", "false", "null", "nu", "ll", "\\", "\\n", "\\\"",
        "\\u", "00", "e9", "é", "日本", "x\"", "x\",", "\"x", "  ", "children", "\"children\":", "\"value\":", "[]}", "]}",
        "]},", "\t",
    ]

    static var vocabulary: TokenVocabulary {
        var bytes = pieces.map { Array($0.utf8) }
        bytes.append([0xE6])  // byte-fallback pieces of 日 (E6 97 A5)
        bytes.append([0x97])
        bytes.append([0xA5])
        return TokenVocabulary(tokenBytes: bytes, endOfGeneration: [1])
    }

    /// For every prefix of `text`: mask == reference walk == per-token check.
    func checkAlong(_ grammar: CompiledGrammar, _ text: String, sourceLocation: SourceLocation = #_sourceLocation) {
        let vocabulary = Self.vocabulary
        let masker = TokenMasker(grammar: grammar, vocabulary: vocabulary)
        var state = grammar.start()
        let bytes = Array(text.utf8)
        for index in 0...bytes.count {
            let mask = masker.mask(for: state)
            let reference = masker.referenceMask(for: state)
            #expect(mask == reference, "prefix \(String(decoding: bytes[..<index], as: UTF8.self)): cached \(mask.allowedTokens) vs walk \(reference.allowedTokens)", sourceLocation: sourceLocation)
            for id in 0..<Int32(vocabulary.count) {
                let bytes = Array(vocabulary.bytes(id))
                let expected = id == 1 ? state.isAccepting : (!bytes.isEmpty && state.accepts(bytes))
                if mask.contains(id) != expected || masker.allows(id, in: state) != expected {
                    Issue.record("token \(id) \(Self.pieces.indices.contains(Int(id)) ? Self.pieces[Int(id)] : "byte") at prefix \(index): expected \(expected)", sourceLocation: sourceLocation)
                }
            }
            #expect(!mask.contains(0), "the control token is never allowed", sourceLocation: sourceLocation)
            guard index < bytes.count else { break }
            let ok = state.advance(bytes[index])
            #expect(ok, "text not accepted at byte \(index)", sourceLocation: sourceLocation)
            if !ok { return }
        }
        #expect(state.isAccepting, sourceLocation: sourceLocation)
    }

    @Test func schemaObjectMasks() throws {
        checkAlong(try schemaGrammar(JSONSchemaTests.person), #"{"name": "a\"b\u00e9日本", "age": -12.5e+1, "address": {"city": "x", "zip": ""}}"#.replacingOccurrences(of: "-12.5e+1", with: "12"))
    }

    @Test func recursiveSchemaMasks() throws {
        let tree = try schemaGrammar(#"""
            {"$ref":"#/$defs/node","$defs":{"node":{"type":"object","properties":{
              "value":{"type":"integer"},
              "children":{"type":"array","items":{"$ref":"#/$defs/node"}}},
              "required":["value","children"],"additionalProperties":false}}}
            """#)
        checkAlong(tree, #"{"value":1,"children":[{"value":12,"children":[]},{"value":0,"children":[{"value":5,"children":[]}]}]}"#)
    }

    @Test func freeFormJSONMasks() throws {
        checkAlong(try ConstraintCompiler.jsonObject(), "{\"a\": [1, -0.5e+3, \"x\\n\", true, null, {\"b\": {}}], \"ab\": \"日本\"}")
    }

    @Test func grammarMasks() throws {
        let grammar = try ConstraintCompiler.grammar("root ::= item (\", \" item)*\nitem ::= \"name\" | \"age\" | [a-c]+ | \"true\"")
        checkAlong(grammar, "name, abc, true, age")
    }

    @Test func endOfGenerationOnlyWhenAccepting() throws {
        let grammar = try schemaGrammar(#"{"type":"integer"}"#)
        let masker = TokenMasker(grammar: grammar, vocabulary: Self.vocabulary)
        var state = grammar.start()
        #expect(!masker.allows(1, in: state))
        #expect(!masker.mask(for: state).contains(1))
        let one = Int32(try #require(Self.pieces.firstIndex(of: "1")))
        #expect(masker.advance(&state, by: one))
        #expect(masker.allows(1, in: state))
        #expect(masker.mask(for: state).contains(1))
        #expect(masker.advance(&state, by: 1), "end of generation in an accepting state")
        #expect(!masker.advance(&state, by: 0), "a control token never")
        #expect(!masker.advance(&state, by: 2), "a rejected token")
        #expect(state.consumedBytes == 1)
    }

    @Test func maskNearTheDepthBoundStaysExact() throws {
        var limits = ConstraintLimits()
        limits.maxStackDepth = 6
        let grammar = try ConstraintCompiler.jsonObject(limits: limits)
        checkAlong(grammar, #"{"a":[[{"b":[1]}]]}"#)
    }

    @Test func trieKeepsEveryTokenOnce() {
        let vocabulary = Self.vocabulary
        let trie = vocabulary.trie
        let listed = trie.tokens.sorted()
        let expected = (0..<Int32(vocabulary.count)).filter { !vocabulary.bytes($0).isEmpty }
        #expect(listed == expected)
        // The root's subtree holds all of them.
        #expect(Int(trie.subtreeEnd[0]) == listed.count)
    }
}

extension String {
    func replacingOccurrences(of target: String, with replacement: String) -> String {
        replacingOccurrences(target, with: replacement)
    }
}

/// One masker shared by concurrent sequences gives each the mask it would get alone.
@Suite struct TokenMaskerConcurrencyTests {
    @Test func concurrentMasksMatchSequentialOnes() async throws {
        let grammar = try ConstraintCompiler.jsonObject()
        let vocabulary = TokenMaskTests.vocabulary
        let text = Array(#"{"a": [1, "x\n", {"b": null}], "ab": true}"#.utf8)
        var states: [ConstraintState] = []
        var state = grammar.start()
        for byte in text {
            states.append(state)
            _ = state.advance(byte)
        }
        let sequential = TokenMasker(grammar: grammar, vocabulary: vocabulary)
        let expected = states.map { sequential.mask(for: $0) }
        let shared = TokenMasker(grammar: grammar, vocabulary: vocabulary)
        let snapshot = states
        let results = await withTaskGroup(of: (Int, TokenMask).self) { group in
            for _ in 0..<4 {
                for (index, state) in snapshot.enumerated() {
                    group.addTask { (index, shared.mask(for: state)) }
                }
            }
            var collected: [(Int, TokenMask)] = []
            for await result in group { collected.append(result) }
            return collected
        }
        #expect(results.count == 4 * states.count)
        for (index, mask) in results { #expect(mask == expected[index], "state \(index)") }
    }
}
