import Testing

@testable import Constraints

/// `pattern`: ECMA-262 regular expressions over the decoded string, produced in canonical JSON.
@Suite struct JSONPatternTests {
    func pattern(_ regex: String, strict: Bool = true) throws -> CompiledGrammar {
        let escaped = String(JSONNode.quoted(regex))
        return try schemaGrammar(#"{"type":"string","pattern":"# + escaped + "}", strict: strict)
    }

    @Test func anchoredPatterns() throws {
        expectTable(try pattern(#"^[A-Z]{2}-\d{3}$"#), accept: [#""AB-123""#], reject: [#""ab-123""#, #""AB-1234""#, #""xAB-123""#, #""AB-12""#])
        expectTable(try pattern("^(cat|dog)s?$"), accept: [#""cat""#, #""dogs""#], reject: [#""cats!""#, #""cow""#, #""""#])
        expectTable(try pattern(#"^\w+@\w+\.com$"#), accept: [#""me@example.com""#], reject: [#""me@example.org""#, #""@x.com""#])
        expectTable(try pattern("^a|b$"), accept: [#""a""#, #""ax""#, #""xb""#], reject: [#""xa""#, #""bx""#])
    }

    @Test func unanchoredPatternsMatchAnywhere() throws {
        expectTable(try pattern("abc"), accept: [#""abc""#, #""xxabcyy""#, #""\nabc""#], reject: [#""ab""#, #""a bc""#])
        expectTable(try pattern("^x"), accept: [#""x""#, #""xyz""#], reject: [#""ax""#])
        expectTable(try pattern("z$"), accept: [#""z""#, #""xyz""#], reject: [#""zx""#])
    }

    @Test func charactersComeOutInTheirJSONSpelling() throws {
        expectTable(try pattern(#"^a"b$"#), accept: [#""a\"b""#], reject: [#""a"b""#, #""a\u0022b""#])
        expectTable(try pattern(#"^\\$"#), accept: [#""\\""#], reject: [#""\""#])
        expectTable(try pattern(#"^\n\t$"#), accept: [#""\n\t""#], reject: ["\"\n\t\""])
        expectTable(try pattern("^.$"), accept: [#""é""#, #""😀""#, #""\"""#], reject: [#""\n""#, #""ab""#])
        expectTable(try pattern(#"^[^a-z]+$"#), accept: [#""ABC""#, #""\u0001""#], reject: [#""abc""#])
        expectTable(try pattern(#"^\u00e9\x41\u{1F600}$"#), accept: [#""éA😀""#], reject: [#""eA😀""#])
        expectTable(try pattern(#"^[\d\s]+$"#), accept: [#""1 2\t3""#], reject: [#""1a""#])
    }

    @Test func quantifiers() throws {
        expectTable(try pattern("^a{2,3}b+c*d?$"), accept: [#""aab""#, #""aaabbccd""#], reject: [#""ab""#, #""aaaab""#, #""aa""#])
        expectTable(try pattern("^(ab){2}$"), accept: [#""abab""#], reject: [#""ab""#, #""ababab""#])
        expectTable(try pattern("^a+?$"), accept: [#""aaa""#], reject: [#""""#])
        expectTable(try pattern("^x{2,}$"), accept: [#""xx""#, #""xxxxx""#], reject: [#""x""#])
    }

    @Test func unsupportedAndInvalidPatterns() {
        for regex in [#"(?=a)b"#, #"(a)\1"#, #"\bword"#, #"\p{L}"#, "a^b", "(^a)", "(?<n>a)"] {
            let text = #"{"type":"string","pattern":"# + JSONNode.quoted(regex) + "}"
            guard case .unsupportedKeyword(let keyword, let path, _)? = schemaError(text) else {
                Issue.record("\(regex): \(String(describing: schemaError(text)))")
                continue
            }
            #expect(keyword == "pattern" && path == "pattern")
            #expect(schemaError(text, strict: false) == nil, "ignored when not strict: \(regex)")
        }
        for regex in ["(", "a)", "*a", "a{3,1}", "[z-a]", #"\"#, "[abc"] {
            let text = #"{"type":"string","pattern":"# + JSONNode.quoted(regex) + "}"
            guard case .invalidSchema(_, let path)? = schemaError(text) else {
                Issue.record("\(regex): \(String(describing: schemaError(text)))")
                continue
            }
            #expect(path == "pattern")
        }
        #expect(schemaError(#"{"type":"string","pattern":"^a$","maxLength":3}"#)?.path == "maxLength")
        guard case .unsupportedKeyword? = schemaError(#"{"type":"string","pattern":"a{0,5000}"}"#) else {
            Issue.record("huge repetition accepted")
            return
        }
    }
}
