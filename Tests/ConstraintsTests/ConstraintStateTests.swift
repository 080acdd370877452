import Testing

@testable import Constraints

@Suite struct ConstraintStateTests {
    @Test func jsonObjectModeAcceptsObjectsOnly() throws {
        let grammar = try ConstraintCompiler.jsonObject()
        expectTable(
            grammar, accept: ["{}", #"{"a":1}"#, #" {"a":[1,{"b":null}]}"#, "{\n  \"a\": \"x\"\n}", "\n{}"],
            reject: ["[]", "1", #""s""#, "{", #"{"a"}"#, "{}{}", "  {}", "{} ", "{}\n"])
    }

    @Test func stateFlags() throws {
        let grammar = try schemaGrammar(#"{"type":"integer"}"#)
        var state = grammar.start()
        #expect(!state.isAccepting && state.canContinue && !state.isDead)
        do { let ok = state.advance(Array("12".utf8)); #expect(ok) }
        #expect(state.isAccepting && state.canContinue)
        do { let ok = state.advance(UInt8(ascii: "x")); #expect(!ok, "rejected byte") }
        #expect(state.consumedBytes == 2, "a rejected byte leaves the state unchanged")
        do { let ok = state.advance(Array("3x".utf8)); #expect(!ok) }
        #expect(state.consumedBytes == 2, "a rejected sequence leaves the state unchanged")
        let bool = try schemaGrammar(#"{"const":true}"#)
        var done = bool.start()
        do { let ok = done.advance(Array("true".utf8)); #expect(ok) }
        #expect(done.isAccepting && !done.canContinue, "after the value only the end remains")
        do { let ok = done.advance(UInt8(ascii: " ")); #expect(!ok, "no gap after the value") }
    }

    @Test func clonesAreIndependent() throws {
        let grammar = try ConstraintCompiler.jsonObject()
        var a = grammar.start()
        do { let ok = a.advance(Array(#"{"k":["#.utf8)); #expect(ok) }
        var b = a
        do { let ok = a.advance(Array("1]}".utf8)); #expect(ok) }
        #expect(a.isAccepting)
        #expect(!b.isAccepting)
        do { let ok = b.advance(Array(#""x",{}]}"#.utf8)); #expect(ok) }
        #expect(b.isAccepting)
    }

    @Test func replayGivesTheSameState() throws {
        // The state is a function of the bytes: splitting them differently changes nothing.
        let grammar = try schemaGrammar(JSONSchemaTests.person)
        let text = Array(#"{"name":"Ann","age":31,"address":{"city":"Oslo","zip":"0150"}}"#.utf8)
        for cut in stride(from: 1, to: text.count, by: 7) {
            var whole = grammar.start()
            var pieces = grammar.start()
            let wholeOK = whole.advance(text[..<cut])
            let firstOK = pieces.advance(text[..<(cut / 2)])
            let secondOK = pieces.advance(text[(cut / 2)..<cut])
            #expect(wholeOK && firstOK && secondOK)
            for next in UInt8(0x20)...0x7E {
                #expect(whole.accepts([next]) == pieces.accepts([next]))
            }
        }
    }

    @Test func ambiguousGrammarsKeepSeveralParses() throws {
        let grammar = try ConstraintCompiler.grammar("root ::= a | b\na ::= \"x\"+ \"1\"\nb ::= \"x\"+ \"2\"")
        var state = grammar.start()
        do { let ok = state.advance(Array("xxx".utf8)); #expect(ok) }
        #expect(state.accepts([UInt8(ascii: "1")]) && state.accepts([UInt8(ascii: "2")]))
        expectTable(grammar, accept: ["x1", "xx2"], reject: ["x", "x3"])
    }
}
