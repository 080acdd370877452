import Testing

@testable import Constraints

/// Strings and numbers as JSON defines them, through schemas of one type.
@Suite struct JSONLexicalTests {
    @Test func numbersFollowJSONGrammar() throws {
        let number = try schemaGrammar(#"{"type":"number"}"#)
        expectTable(
            number,
            accept: ["0", "-0", "1", "-1", "10", "1.5", "-0.0", "1e10", "1E10", "1e+10", "1e-10", "2.5E-3", "0.001", "123456789"],
            reject: ["01", "-01", "1.", "1.e5", ".5", "+1", "-", "1e", "1e+", "0x10", "NaN", "Infinity", "1.5.2", "--1", "1 2", ""])
    }

    @Test func integersHaveNoFractionOrExponent() throws {
        let integer = try schemaGrammar(#"{"type":"integer"}"#)
        expectTable(integer, accept: ["0", "-0", "7", "-42", "9007199254740993"], reject: ["1.0", "1e3", "01", "-", "1.5", ""])
        // "number" with "integer" is just number.
        let both = try schemaGrammar(#"{"type":["integer","number"]}"#)
        expectTable(both, accept: ["1", "1.5"], reject: ["01"])
    }

    @Test func digitCountsAreBounded() throws {
        let number = try schemaGrammar(#"{"type":"number"}"#)
        #expect(accepts(number, "1" + String(repeating: "0", count: JSONGrammar.maxIntegerDigits - 1)))
        #expect(!accepts(number, "1" + String(repeating: "0", count: JSONGrammar.maxIntegerDigits)))
        #expect(accepts(number, "0." + String(repeating: "3", count: JSONGrammar.maxFractionDigits)))
        #expect(!accepts(number, "0." + String(repeating: "3", count: JSONGrammar.maxFractionDigits + 1)))
    }

    @Test func stringEscapes() throws {
        let string = try schemaGrammar(#"{"type":"string"}"#)
        expectTable(
            string,
            accept: [
                #""""#, #""abc""#, #""a\"b""#, #""\\""#, #""\/""#, #""\b\f\n\r\t""#, #""\u0000""#, #""\u00e9""#, #""\u00E9""#,
                #""\uFFFF""#, #""\ud83d\ude00""#, #""\uD83D\uDE00""#, #""x\uDBFF\uDFFFy""#,
            ],
            reject: [
                #"""#, #""abc"#, #""\a""#, #""\x41""#, #""\u12""#, #""\u12G4""#, #""\ud83d""#, #""\ud83dx""#,
                #""\ude00""#, #""\ud83d\u0041""#, #""\ud83d\ud83d""#, #""\""#, "abc", "'abc'",
            ])
    }

    @Test func controlCharactersMustBeEscaped() throws {
        let string = try schemaGrammar(#"{"type":"string"}"#)
        for byte in UInt8(0)..<0x20 {
            #expect(!accepts(string, [0x22, byte, 0x22]), "raw control byte \(byte) accepted")
        }
        #expect(accepts(string, [0x22, 0x7F, 0x22]), "DEL is not a control character for JSON")
    }

    @Test func rawUTF8IsValidatedByteByByte() throws {
        let string = try schemaGrammar(#"{"type":"string"}"#)
        expectTable(string, accept: [#""é""#, #""日本語""#, #""😀""#, "\"\u{10FFFF}\"", "\"\u{2028}\""], reject: [])
        let invalid: [[UInt8]] = [
            [0x22, 0x80, 0x22],  // lone continuation byte
            [0x22, 0xC3, 0x22],  // truncated two-byte sequence
            [0x22, 0xC0, 0xAF, 0x22],  // overlong '/'
            [0x22, 0xE0, 0x80, 0xAF, 0x22],  // overlong three-byte
            [0x22, 0xED, 0xA0, 0x80, 0x22],  // encoded surrogate U+D800
            [0x22, 0xF4, 0x90, 0x80, 0x80, 0x22],  // above U+10FFFF
            [0x22, 0xF5, 0x80, 0x80, 0x80, 0x22],
            [0x22, 0xFF, 0x22],
        ]
        for bytes in invalid {
            #expect(!accepts(string, bytes), "accepted invalid UTF-8 \(bytes)")
        }
        // A character split across steps (as byte-fallback tokens split it) is fine.
        var state = string.start()
        for byte: UInt8 in [0x22, 0xF0, 0x9F, 0x98, 0x80, 0x22] {
            let ok = state.advance(byte)
            #expect(ok)
        }
        #expect(state.isAccepting)
    }

    @Test func stringLengthsCountCharacters() throws {
        let grammar = try schemaGrammar(#"{"type":"string","minLength":2,"maxLength":3}"#)
        expectTable(grammar, accept: [#""ab""#, #""abc""#, #""é\n""#, #""😀😀😀""#], reject: [#""a""#, #""abcd""#, #""""#])
    }

    @Test func formats() throws {
        let date = try schemaGrammar(#"{"type":"string","format":"date"}"#)
        expectTable(date, accept: [#""2024-02-29""#, #""1999-12-31""#], reject: [#""2024-13-01""#, #""2024-1-01""#, #""2024-00-10""#, #""24-01-01""#])
        let dateTime = try schemaGrammar(#"{"type":"string","format":"date-time"}"#)
        expectTable(
            dateTime, accept: [#""2024-02-29T23:59:60Z""#, #""2024-02-29T08:00:00.123+02:00""#],
            reject: [#""2024-02-29 08:00:00Z""#, #""2024-02-29T24:00:00Z""#, #""2024-02-29T08:00:00""#])
        let uuid = try schemaGrammar(#"{"type":"string","format":"uuid"}"#)
        expectTable(uuid, accept: [#""123e4567-e89b-12d3-a456-426614174000""#], reject: [#""123e4567e89b12d3a456426614174000""#])
    }

    @Test func booleansAndNull() throws {
        expectTable(try schemaGrammar(#"{"type":"boolean"}"#), accept: ["true", "false"], reject: ["True", "1", "null", "tru"])
        expectTable(try schemaGrammar(#"{"type":"null"}"#), accept: ["null"], reject: ["nul", "None", ""])
        expectTable(try schemaGrammar(#"{"type":["string","null"]}"#), accept: ["null", #""x""#], reject: ["1"])
    }

    /// A bounded gap may come before the value, none after it (the output ends with the value).
    @Test func whitespaceIsBoundedBeforeTheValueAndAbsentAfter() throws {
        let number = try schemaGrammar(#"{"type":"integer"}"#)
        expectTable(number, accept: [" 1", "\n1", "\n    1", "\n" + String(repeating: " ", count: 16) + "1"],
                    reject: ["  1", "1 ", "\n1\n", "\n" + String(repeating: " ", count: 17) + "1"])
    }
}
