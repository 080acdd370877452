/// The grammar language every constraint is translated into before it is compiled: regular
/// expressions over bytes, plus calls of named rules (which is what makes recursion, and so a
/// pushdown automaton, possible). JSON Schema, the JSON object mode and GBNF all build these.
indirect enum GrammarExpression: Sendable {
    /// One byte from the set.
    case byteSet(ByteSet)
    /// Each in turn.
    case sequence([GrammarExpression])
    /// Any one of them (an empty choice matches nothing).
    case choice([GrammarExpression])
    /// `min` to `max` repetitions (`max` nil: unbounded).
    case repetition(GrammarExpression, min: Int, max: Int?)
    /// The rule with this index in the grammar's rule list.
    case rule(Int)
    /// Some of `items`, in order, with `separator` between them: required items must appear,
    /// repeatable ones may appear several times. Object members with optional properties; as
    /// a plain regular expression it would grow quadratically with the number of optional
    /// items (which one comes first decides where commas go), as an automaton it is linear.
    case list([ListItem], separator: GrammarExpression)

    /// Matches the empty string.
    static let empty = GrammarExpression.sequence([])
    /// Matches nothing.
    static let nothing = GrammarExpression.choice([])

    /// These bytes, in order.
    static func literal(_ bytes: some Sequence<UInt8>) -> GrammarExpression {
        .sequence(bytes.map { .byteSet(ByteSet($0)) })
    }

    /// The UTF-8 bytes of `text`.
    static func literal(_ text: String) -> GrammarExpression { literal(Array(text.utf8)) }

    static func byte(_ byte: UInt8) -> GrammarExpression { .byteSet(ByteSet(byte)) }

    static func bytes(_ range: ClosedRange<UInt8>) -> GrammarExpression { .byteSet(ByteSet(range)) }

    var optional: GrammarExpression { .repetition(self, min: 0, max: 1) }

    var zeroOrMore: GrammarExpression { .repetition(self, min: 0, max: nil) }

    var oneOrMore: GrammarExpression { .repetition(self, min: 1, max: nil) }

    /// Whether this is `.nothing` syntactically (used to drop dead alternatives early).
    var isNothing: Bool {
        if case .choice(let items) = self { return items.isEmpty }
        return false
    }
}

/// One element of `GrammarExpression.list`.
struct ListItem: Sendable {
    var body: GrammarExpression
    var required: Bool
    var repeatable = false
}

/// Named rules and the one the output must match: the input of `GrammarCompiler`.
struct GrammarDefinition: Sendable {
    struct Rule: Sendable {
        var name: String
        var body: GrammarExpression
    }

    var rules: [Rule] = []
    var root = 0

    /// Adds a rule (its body can be set later, for recursion) and returns its index.
    mutating func addRule(_ name: String, _ body: GrammarExpression = .nothing) -> Int {
        rules.append(Rule(name: name, body: body))
        return rules.count - 1
    }
}
