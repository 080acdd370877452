import Testing

@testable import Constraints

@Suite struct GBNFTests {
    @Test func llamaCppJSONGrammarParsesAndAccepts() throws {
        // llama.cpp grammars/json.gbnf.
        let text = #"""
            root   ::= object
            value  ::= object | array | string | number | ("true" | "false" | "null") ws

            object ::=
              "{" ws (
                        string ":" ws value
                ("," ws string ":" ws value)*
              )? "}" ws

            array  ::=
              "[" ws (
                        value
                ("," ws value)*
              )? "]" ws

            string ::=
              "\"" (
                [^"\\\x7F\x00-\x1F] |
                "\\" (["\\bfnrt] | "u" [0-9a-fA-F]{4}) # escapes
              )* "\"" ws

            number ::= ("-"? ([0-9] | [1-9] [0-9]{0,15})) ("." [0-9]+)? ([eE] [-+]? [0-9] [1-9]{0,15})? ws

            # Optional space: by convention, applied in this grammar after literal chars when allowed
            ws ::= | " " | "\n" [ \t]{0,20}
            """#
        let grammar = try ConstraintCompiler.grammar(text)
        expectTable(
            grammar, accept: [#"{"a": [1, 2.5, "x\n", true, null, {}]}"#, "{}", #"{"é":"日本"}"#],
            reject: ["[]", #"{"a":}"#, #"{"a" 1}"#, "{"])
    }

    @Test func repetitionsClassesAndEscapes() throws {
        let grammar = try ConstraintCompiler.grammar(#"""
            root ::= greeting " " name{1,3} "!"?   # a comment
            greeting ::= "hi" | "hello"
            name ::= [A-Z] [a-z]* | "\u00e9" | "\x41" | [^\x00-\x7F]
            """#)
        expectTable(
            grammar, accept: ["hi Ann", "hello AnnBob!", "hi é", "hi A", "hi 日本", "hi Ab日"],
            reject: ["hi", "hi ann", "hey Ann", "hi AnnBobCarlDan", "hi Ann!!"])
    }

    @Test func alternativesContinueOnLinesStartingWithBar() throws {
        let grammar = try ConstraintCompiler.grammar("root ::= \"a\"\n  | \"b\"\n  | \"c\"\nunused ::= \"x\"")
        expectTable(grammar, accept: ["a", "b", "c"], reject: ["x", "ab"])
    }

    @Test func dotMatchesAnyCharacter() throws {
        let grammar = try ConstraintCompiler.grammar(#"root ::= "<" .* ">""#)
        expectTable(grammar, accept: ["<>", "<abc>", "<日本>", "<>>"], reject: ["<", "abc"])
    }

    @Test func syntaxErrorsHaveLineAndColumn() {
        #expect(grammarError("root ::= \"abc") == .grammarSyntax(message: "unterminated literal", line: 1, column: 10))
        #expect(grammarError("root ::= [a-") == .grammarSyntax(message: "unterminated character class", line: 1, column: 10))
        #expect(grammarError("root ::= \"a\"\nitem = \"b\"") == .grammarSyntax(message: "expected '::=' after the rule name 'item'", line: 2, column: 6))
        #expect(grammarError("root ::= ( \"a\" ") == .grammarSyntax(message: "expected ')'", line: 1, column: 16))
        #expect(grammarError("root ::= \"a\" )") == .grammarSyntax(message: "expected the end of the rule (a newline)", line: 1, column: 14))
        #expect(grammarError("root ::= [z-a]") == .grammarSyntax(message: "a character range must go upwards", line: 1, column: 10))
        #expect(grammarError("root ::= \"\\q\"") == .grammarSyntax(message: "unknown escape", line: 1, column: 11))
        #expect(grammarError("root ::= \"a\"{3,1}") == .grammarSyntax(message: "a repetition's maximum is below its minimum", line: 1, column: 13))
        #expect(grammarError("root ::= <think>") == .grammarSyntax(message: "token references ('<...>') are not supported", line: 1, column: 10))
        #expect(grammarError("item ::= \"a\"") == .grammarSyntax(message: "the grammar has no 'root' rule", line: 1, column: 1))
        #expect(grammarError("root ::= \"a\"\nroot ::= \"b\"") == .grammarSyntax(message: "rule 'root' is defined twice", line: 2, column: 1))
    }

    @Test func undefinedRulesAreNamed() {
        #expect(grammarError("root ::= item \"x\"\nother ::= \"y\"") == .undefinedRule(name: "item", line: 1, column: 10))
    }

    @Test func leftRecursionIsRefused() {
        #expect(grammarError("root ::= expr\nexpr ::= expr \"+\" term | term\nterm ::= [0-9]") == .leftRecursion(rule: "expr"))
        // Indirect, through a rule that can match nothing.
        #expect(grammarError("root ::= a\na ::= b a \"x\" | \"y\"\nb ::= \"z\"?") == .leftRecursion(rule: "a"))
        // Right recursion is fine.
        let right = try? ConstraintCompiler.grammar("root ::= term (\"+\" root)?\nterm ::= [0-9]")
        #expect(right.map { accepts($0, "1+2+3") } == true)
    }

    @Test func grammarsThatAcceptNothing() {
        #expect(grammarError("root ::= a\na ::= \"x\" a") == .acceptsNothing(path: ""))
        #expect(grammarError("root ::= [^\\x00-\\U0010FFFF]") == .acceptsNothing(path: ""))
    }

    @Test func longRuleChainsCompile() throws {
        // Each rule needs the next to be known productive: analysed with a worklist, not by
        // rescanning every rule until nothing changes.
        let count = 3000
        var text = "root ::= r0\n"
        for index in 0..<(count - 1) { text += "r\(index) ::= \"a\" r\(index + 1)?\n" }
        text += "r\(count - 1) ::= \"z\"\n"
        let grammar = try ConstraintCompiler.grammar(text)
        // The calls are tail calls: no frame each, so the depth bound does not cut the chain.
        expectTable(
            grammar, accept: ["a", "aaa", String(repeating: "a", count: 200), String(repeating: "a", count: count - 1) + "z"],
            reject: ["", "zz", "aaz", String(repeating: "a", count: count) + "z"])
    }

    @Test func rightRecursiveListsAreNotBoundedByDepth() throws {
        let grammar = try ConstraintCompiler.grammar("root ::= item (\",\" root)?\nitem ::= [0-9]+")
        let long = (0..<2000).map(String.init).joined(separator: ",")
        #expect(accepts(grammar, long))
        var state = grammar.start()
        _ = state.advance(Array(long.utf8))
        #expect(state.depth <= 2, "right recursion stays flat, depth \(state.depth)")
        // Nesting that must come back out still counts against the bound.
        let nested = try ConstraintCompiler.grammar("root ::= \"(\" root? \")\"")
        #expect(accepts(nested, String(repeating: "(", count: 200) + String(repeating: ")", count: 200)))
        #expect(!accepts(nested, String(repeating: "(", count: 300) + String(repeating: ")", count: 300)))
    }

    @Test func bounds() {
        var limits = ConstraintLimits()
        limits.maxSourceBytes = 8
        guard case .tooLarge = grammarError("root ::= \"abcdef\"", limits: limits) else {
            Issue.record("long grammar accepted")
            return
        }
        guard case .tooLarge = grammarError("root ::= \"a\"{0,100000}") else {
            Issue.record("huge repetition accepted")
            return
        }
        guard case .grammarSyntax = grammarError("root ::= " + String(repeating: "(", count: 100) + "\"a\"" + String(repeating: ")", count: 100))
        else {
            Issue.record("deep parentheses accepted")
            return
        }
    }
}
