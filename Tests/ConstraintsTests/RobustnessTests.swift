import Testing

@testable import Constraints

/// Mangled schemas and grammars compile or fail with a `ConstraintError`: never a crash, a
/// hang or an escaping error of another type. (Compilation is bounded by `ConstraintLimits`.)
@Suite struct RobustnessTests {
    typealias Random = SeededRandom

    static let seeds = [
        JSONSchemaTests.person,
        ##"{"$ref":"#/$defs/n","$defs":{"n":{"type":"object","properties":{"v":{"type":"integer"},"c":{"type":"array","items":{"$ref":"#/$defs/n"},"maxItems":3}},"required":["v"]}}}"##,
        #"{"anyOf":[{"type":"string","format":"date"},{"enum":[1,"a",null]},{"type":"array","prefixItems":[{"const":true}]}]}"#,
    ]

    static let grammars = [
        "root ::= item (\",\" item)*\nitem ::= [a-z]+ | \"\\\"\" [^\"]* \"\\\"\" | \"(\" root \")\"",
        "root ::= \"a\"{2,5} b?\nb ::= [\\u00e0-\\u00ff] .",
    ]

    /// Deletes, duplicates or replaces a few bytes.
    static func mutate(_ text: String, _ random: inout Random) -> String {
        var bytes = Array(text.utf8)
        let alphabet = Array("{}[]\":,0123456789-.eE \\nutrfals#$/*+?|()^".utf8) + [0xC3, 0xA9, 0xFF]
        for _ in 0...random.below(3) {
            guard !bytes.isEmpty else { break }
            let index = random.below(bytes.count)
            switch random.below(3) {
            case 0: bytes.remove(at: index)
            case 1: bytes.insert(bytes[index], at: index)
            default: bytes[index] = alphabet[random.below(alphabet.count)]
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    @Test func mangledSchemas() {
        var random = Random(state: 21)
        var compiled = 0
        for round in 0..<600 {
            let text = Self.mutate(Self.seeds[round % Self.seeds.count], &random)
            do {
                let grammar = try ConstraintCompiler.jsonSchema(text, strict: round % 2 == 0)
                compiled += 1
                var state = grammar.start()
                _ = state.advance(Array(#"{"name":"x","v":1,"c":[]}"#.utf8))
            } catch {
                // A typed error is the only other outcome (the signature says so); make sure its
                // description renders.
                #expect(!error.description.isEmpty)
            }
        }
        #expect(compiled > 0 && compiled < 600, "compiled \(compiled) of 600 mutants")
    }

    @Test func mangledGrammars() {
        var random = Random(state: 7)
        var compiled = 0
        for round in 0..<600 {
            let text = Self.mutate(Self.grammars[round % Self.grammars.count], &random)
            do {
                let grammar = try ConstraintCompiler.grammar(text)
                compiled += 1
                var state = grammar.start()
                _ = state.advance(Array("aab,(c)".utf8))
            } catch {
                #expect(!error.description.isEmpty)
            }
        }
        #expect(compiled > 0 && compiled < 600, "compiled \(compiled) of 600 mutants")
    }

    @Test func randomBytesAsInput() throws {
        // Any byte sequence fed to a state either advances or is refused; the state stays usable.
        let grammar = try ConstraintCompiler.jsonObject()
        var random = Random(state: 3)
        for _ in 0..<200 {
            var state = grammar.start()
            for _ in 0..<64 {
                let byte = UInt8(truncatingIfNeeded: random.next())
                let before = state.consumedBytes
                if !state.advance(byte) { #expect(state.consumedBytes == before) }
            }
            #expect(!state.isDead)
        }
    }
}
