// The pieces of JSON (RFC 8259) as byte-level grammar expressions, shared by the JSON object
// mode and the schema compiler.
//
// Choices made here (documented in the README's structured-output section):
// - Whitespace between tokens is bounded so that a model cannot loop on it: each gap is empty,
//   one space, or one newline followed by at most `maxIndent` spaces or tabs.
// - Strings are valid UTF-8 without raw control characters; escapes are JSON's, and `\u`
//   escapes of surrogates must form a high–low pair.
// - Numbers follow JSON's grammar (no leading zeros, no "1.", no "+1") with bounded digit
//   counts (`maxIntegerDigits`, `maxFractionDigits`, `maxExponentDigits`), so that a model
//   cannot run on with "0.33333…" forever.

/// JSON's lexical pieces and generic value rules.
enum JSONGrammar {
    static let maxIndent = 16
    static let maxIntegerDigits = 20
    static let maxFractionDigits = 20
    static let maxExponentDigits = 3

    static let whitespace: GrammarExpression = .choice([
        .empty,
        .byte(0x20),
        .sequence([.byte(0x0A), .repetition(.byteSet(ByteSet([0x20, 0x09])), min: 0, max: maxIndent)]),
    ])

    static let digit = GrammarExpression.bytes(0x30...0x39)
    static let hexDigit = GrammarExpression.byteSet(ByteSet(0x30...0x39).union(ByteSet(0x41...0x46)).union(ByteSet(0x61...0x66)))

    /// A character inside a string written as itself: any scalar from U+0020 except `"` and `\`.
    static let unescapedCharacter = UTF8Ranges.anyScalar(exceptASCII: ByteSet(0x00...0x1F).union(ByteSet([0x22, 0x5C])))

    /// What follows `\u`: four hex digits that are not a surrogate, or a high surrogate
    /// followed by `\u` and a low one.
    static let unicodeEscapeBody: GrammarExpression = {
        let d = ByteSet([0x44, 0x64])  // D d
        // Not a surrogate: first digit 0-9 A-C E-F, or D followed by 0-7.
        let notD = ByteSet(0x30...0x39).union(ByteSet(0x41...0x43)).union(ByteSet(0x61...0x63))
            .union(ByteSet([0x45, 0x46, 0x65, 0x66]))
        let bmp = GrammarExpression.choice([
            .sequence([.byteSet(notD), hexDigit, hexDigit, hexDigit]),
            .sequence([.byteSet(d), .bytes(0x30...0x37), hexDigit, hexDigit]),
        ])
        let high = GrammarExpression.sequence([.byteSet(d), .byteSet(ByteSet(Array("89ABab".utf8))), hexDigit, hexDigit])
        let low = GrammarExpression.sequence([.byteSet(d), .byteSet(ByteSet(Array("CDEFcdef".utf8))), hexDigit, hexDigit])
        return .choice([bmp, .sequence([high, .literal("\\u"), low])])
    }()

    /// An escape sequence: `\"`, `\n`, `\u00e9`, `\ud83d\ude00`.
    static let escape: GrammarExpression = .sequence([
        .byte(0x5C),
        .choice([.byteSet(ByteSet(Array("\"\\/bfnrt".utf8))), .sequence([.byte(0x75), unicodeEscapeBody])]),
    ])

    static let character = GrammarExpression.choice([unescapedCharacter, escape])

    /// Any JSON string.
    static let string = GrammarExpression.sequence([.byte(0x22), character.zeroOrMore, .byte(0x22)])

    /// A string of `min...max` characters (escapes count as one).
    static func string(minLength: Int, maxLength: Int?) -> GrammarExpression {
        .sequence([.byte(0x22), .repetition(character, min: minLength, max: maxLength), .byte(0x22)])
    }

    /// `content` between quotes.
    static func quoted(_ content: GrammarExpression) -> GrammarExpression {
        .sequence([.byte(0x22), content, .byte(0x22)])
    }

    static let integer: GrammarExpression = .sequence([
        .byte(0x2D).optional,
        .choice([.byte(0x30), .sequence([.bytes(0x31...0x39), .repetition(digit, min: 0, max: maxIntegerDigits - 1)])]),
    ])

    static let number: GrammarExpression = .sequence([
        integer,
        .sequence([.byte(0x2E), .repetition(digit, min: 1, max: maxFractionDigits)]).optional,
        .sequence([
            .byteSet(ByteSet([0x45, 0x65])), .byteSet(ByteSet([0x2B, 0x2D])).optional,
            .repetition(digit, min: 1, max: maxExponentDigits),
        ]).optional,
    ])

    static let boolean = GrammarExpression.choice([.literal("true"), .literal("false")])
    static let null = GrammarExpression.literal("null")

    /// Adds the `ws` rule and returns a call of it. Whitespace is a rule, not inlined, because
    /// its bounded indentation costs ~18 automaton states: inlined at every gap of a large
    /// schema it would multiply the states (and compile time) several times over.
    static func addWhitespaceRule(to definition: inout GrammarDefinition) -> GrammarExpression {
        .rule(definition.addRule("ws", whitespace))
    }

    /// `{ ws (member ("," ws member)*)? }` with `member = key ws ":" ws value ws`.
    static func object(key: GrammarExpression, value: GrammarExpression, ws: GrammarExpression) -> GrammarExpression {
        let member = GrammarExpression.sequence([key, ws, .byte(0x3A), ws, value, ws])
        return .sequence([
            .byte(0x7B), ws,
            .sequence([member, .sequence([.byte(0x2C), ws, member]).zeroOrMore]).optional,
            .byte(0x7D),
        ])
    }

    /// `[ ws (value ws ("," ws value ws)*)? ]`.
    static func array(_ value: GrammarExpression, ws: GrammarExpression) -> GrammarExpression {
        let item = GrammarExpression.sequence([value, ws])
        return .sequence([
            .byte(0x5B), ws,
            .sequence([item, .sequence([.byte(0x2C), ws, item]).zeroOrMore]).optional,
            .byte(0x5D),
        ])
    }

    /// Adds the recursive `json-object` and `json-array` rules of free-form JSON and returns the
    /// expression of any JSON value (scalars inline, containers as calls).
    static func addGenericRules(
        to definition: inout GrammarDefinition, ws: GrammarExpression
    ) -> (value: GrammarExpression, object: Int, array: Int) {
        let object = definition.addRule("json-object")
        let array = definition.addRule("json-array")
        let value = GrammarExpression.choice([.rule(object), .rule(array), string, number, boolean, null])
        definition.rules[object].body = Self.object(key: string, value: value, ws: ws)
        definition.rules[array].body = Self.array(value, ws: ws)
        return (value, object, array)
    }

    /// The grammar of `response_format: {"type": "json_object"}`: one object, optionally
    /// preceded by a whitespace gap. Nothing follows it: the output ends at the closing brace
    /// (so end-of-generation is forced there rather than after trailing blanks).
    static func objectDefinition() -> GrammarDefinition {
        var definition = GrammarDefinition()
        let root = definition.addRule("root")
        let ws = addWhitespaceRule(to: &definition)
        let generic = addGenericRules(to: &definition, ws: ws)
        definition.rules[root].body = .sequence([ws, object(key: string, value: generic.value, ws: ws)])
        definition.root = root
        return definition
    }
}
