// JSON Schema `pattern` (an ECMA-262 regular expression, matched anywhere in the string unless
// anchored) → the grammar of a JSON string literal whose *decoded* value matches. Each
// character of the pattern is produced in its canonical JSON spelling: raw UTF-8, or `\"`, `\\`,
// `\n`, `\u001f`, … for the characters that must be escaped.
//
// Supported: literals, `.`, classes `[a-z]` `[^...]` with `\d \w \s \D \W \S` inside and out,
// escapes `\n \r \t \f \v \0 \xHH \uHHHH \u{H…}` and escaped punctuation, groups `(...)`
// `(?:...)`, alternation, quantifiers `* + ? {n} {n,} {n,m}` (lazy forms too: the language is
// the same), `^` at the start and `$` at the end of the pattern or of a top-level alternative.
// Refused (as unsupported): backreferences, lookaround, `\b`/`\B`, Unicode property escapes,
// named groups, anchors elsewhere.

/// Translates one pattern.
struct JSONPattern {
    enum Failure: Error {
        /// A feature this translator does not support.
        case unsupported(String)
        /// Not a valid regular expression.
        case invalid(String)
    }

    private let scalars: [Unicode.Scalar]
    private var index = 0
    private let maxRepetition: Int

    /// The grammar of a JSON string (quotes included) whose value matches `pattern`.
    static func expression(_ pattern: String, maxRepetition: Int) throws(Failure) -> GrammarExpression {
        var parser = JSONPattern(scalars: Array(pattern.unicodeScalars), maxRepetition: maxRepetition)
        let alternatives = try parser.topLevel()
        return .sequence([.byte(0x22), alternatives, .byte(0x22)])
    }

    private init(scalars: [Unicode.Scalar], maxRepetition: Int) {
        self.scalars = scalars
        self.maxRepetition = maxRepetition
    }

    private var current: Unicode.Scalar? { index < scalars.count ? scalars[index] : nil }

    /// Alternatives of the whole pattern, each anchored or padded with "any characters".
    private mutating func topLevel() throws(Failure) -> GrammarExpression {
        var alternatives: [GrammarExpression] = []
        let anything = JSONGrammar.character.zeroOrMore
        repeat {
            if current == "|" { index += 1 }
            var anchoredStart = false
            if current == "^" {
                anchoredStart = true
                index += 1
            }
            var items = try sequence(depth: 0)
            var anchoredEnd = false
            if current == "$" {
                anchoredEnd = true
                index += 1
            }
            guard current == nil || current == "|" else {
                throw current == ")" ? .invalid("unbalanced ')'") : .unsupported("an anchor ('^' or '$') inside the pattern")
            }
            if !anchoredStart { items.insert(anything, at: 0) }
            if !anchoredEnd { items.append(anything) }
            alternatives.append(.sequence(items))
        } while current == "|"
        return alternatives.count == 1 ? alternatives[0] : .choice(alternatives)
    }

    private mutating func alternation(depth: Int) throws(Failure) -> GrammarExpression {
        var alternatives = [GrammarExpression.sequence(try sequence(depth: depth))]
        while current == "|" {
            index += 1
            alternatives.append(.sequence(try sequence(depth: depth)))
        }
        return alternatives.count == 1 ? alternatives[0] : .choice(alternatives)
    }

    private mutating func sequence(depth: Int) throws(Failure) -> [GrammarExpression] {
        var items: [GrammarExpression] = []
        while let scalar = current, scalar != "|", scalar != ")" {
            if scalar == "$" || scalar == "^" {
                // Only at the very end of a top-level alternative (checked by the caller).
                if scalar == "$", depth == 0 { break }
                throw .unsupported("an anchor ('^' or '$') inside the pattern")
            }
            let atom = try self.atom(depth: depth)
            items.append(try quantified(atom))
        }
        return items
    }

    private mutating func atom(depth: Int) throws(Failure) -> GrammarExpression {
        guard let scalar = current else { throw .invalid("unexpected end") }
        index += 1
        switch scalar {
        case "(":
            guard depth < 64 else { throw .unsupported("groups nested deeper than 64") }
            if current == "?" {
                guard index + 1 < scalars.count, scalars[index + 1] == ":" else {
                    throw .unsupported("lookaround and named groups")
                }
                index += 2
            }
            let inner = try alternation(depth: depth + 1)
            guard current == ")" else { throw .invalid("missing ')'") }
            index += 1
            return inner
        case "[":
            return Self.characters(try characterClass())
        case ".":
            // Any character but line terminators.
            return Self.characters(UTF8Ranges.complement([0x0A...0x0A, 0x0D...0x0D, 0x2028...0x2029]))
        case "\\":
            return Self.characters(try escape(inClass: false))
        case "*", "+", "?", "{":
            if scalar == "{", !looksLikeQuantifier(from: index - 1) { return Self.characters([scalar.value...scalar.value]) }
            throw .invalid("nothing to repeat")
        case "]", "}":
            return Self.characters([scalar.value...scalar.value])
        default:
            return Self.characters([scalar.value...scalar.value])
        }
    }

    private func looksLikeQuantifier(from start: Int) -> Bool {
        var position = start + 1
        var digits = 0
        while position < scalars.count, scalars[position].properties.numericType != nil, scalars[position].isASCII {
            position += 1
            digits += 1
        }
        return digits > 0 && position < scalars.count && (scalars[position] == "}" || scalars[position] == ",")
    }

    private mutating func number() -> Int? {
        var value = 0
        var digits = 0
        while let scalar = current, scalar.isASCII, let digit = Int(String(scalar)) {
            value = min(value * 10 + digit, Int(Int32.max))
            digits += 1
            index += 1
        }
        return digits > 0 ? value : nil
    }

    private mutating func quantified(_ atom: GrammarExpression) throws(Failure) -> GrammarExpression {
        var result: GrammarExpression
        switch current {
        case "*":
            index += 1
            result = atom.zeroOrMore
        case "+":
            index += 1
            result = atom.oneOrMore
        case "?":
            index += 1
            result = atom.optional
        case "{" where looksLikeQuantifier(from: index):
            index += 1
            let low = number() ?? 0
            var high: Int? = low
            if current == "," {
                index += 1
                high = number()
            }
            guard current == "}" else { throw .invalid("unterminated {m,n}") }
            index += 1
            if let high, high < low { throw .invalid("{m,n} with n < m") }
            guard low <= maxRepetition, (high ?? 0) <= maxRepetition else {
                throw .unsupported("repetition counts above \(maxRepetition)")
            }
            result = .repetition(atom, min: low, max: high)
        default:
            return atom
        }
        if current == "?" { index += 1 }  // lazy: same language
        if current == "*" || current == "+" || current == "?" || (current == "{" && looksLikeQuantifier(from: index)) {
            throw .invalid("nothing to repeat")
        }
        return result
    }

    /// `[...]` after the opening bracket: the scalars it matches.
    private mutating func characterClass() throws(Failure) -> [ClosedRange<UInt32>] {
        var negated = false
        if current == "^" {
            negated = true
            index += 1
        }
        var ranges: [ClosedRange<UInt32>] = []
        while true {
            guard let scalar = current else { throw .invalid("missing ']'") }
            index += 1
            if scalar == "]" { break }  // as in JavaScript: "[]" matches nothing, "[^]" anything
            var low: [ClosedRange<UInt32>]
            if scalar == "\\" { low = try escape(inClass: true) } else if scalar == "[" && current == ":" {
                throw .unsupported("POSIX classes")
            } else { low = [scalar.value...scalar.value] }
            if current == "-", index + 1 < scalars.count, scalars[index + 1] != "]", low.count == 1, low[0].count == 1 {
                index += 1
                guard let next = current else { throw .invalid("missing ']'") }
                index += 1
                let high = next == "\\" ? try escape(inClass: true) : [next.value...next.value]
                guard high.count == 1, high[0].count == 1, low[0].lowerBound <= high[0].lowerBound else {
                    throw .invalid("a character range out of order")
                }
                low = [low[0].lowerBound...high[0].lowerBound]
            }
            ranges += low
        }
        return negated ? UTF8Ranges.complement(ranges) : ranges
    }

    static let digits: [ClosedRange<UInt32>] = [0x30...0x39]
    static let word: [ClosedRange<UInt32>] = [0x30...0x39, 0x41...0x5A, 0x5F...0x5F, 0x61...0x7A]
    static let space: [ClosedRange<UInt32>] = [
        0x09...0x0D, 0x20...0x20, 0xA0...0xA0, 0x1680...0x1680, 0x2000...0x200A, 0x2028...0x2029, 0x202F...0x202F,
        0x205F...0x205F, 0x3000...0x3000, 0xFEFF...0xFEFF,
    ]

    /// After a backslash: the scalars the escape stands for.
    private mutating func escape(inClass: Bool) throws(Failure) -> [ClosedRange<UInt32>] {
        guard let scalar = current else { throw .invalid("a trailing backslash") }
        index += 1
        switch scalar {
        case "d": return Self.digits
        case "D": return UTF8Ranges.complement(Self.digits)
        case "w": return Self.word
        case "W": return UTF8Ranges.complement(Self.word)
        case "s": return Self.space
        case "S": return UTF8Ranges.complement(Self.space)
        case "n": return [0x0A...0x0A]
        case "r": return [0x0D...0x0D]
        case "t": return [0x09...0x09]
        case "f": return [0x0C...0x0C]
        case "v": return [0x0B...0x0B]
        case "0": return [0...0]
        case "b" where inClass: return [0x08...0x08]
        case "x", "u":
            var value: UInt32 = 0
            if scalar == "u", current == "{" {
                index += 1
                var digits = 0
                while let c = current, c != "}" {
                    guard let digit = c.properties.numericType != nil || "abcdefABCDEF".unicodeScalars.contains(c)
                        ? UInt32(String(c), radix: 16) : nil
                    else { throw .invalid("a bad \\u{...} escape") }
                    value = value * 16 + digit
                    digits += 1
                    index += 1
                    guard digits <= 6 else { throw .invalid("a bad \\u{...} escape") }
                }
                guard current == "}", digits > 0 else { throw .invalid("a bad \\u{...} escape") }
                index += 1
            } else {
                let count = scalar == "x" ? 2 : 4
                guard index + count <= scalars.count,
                    let parsed = UInt32(String(String.UnicodeScalarView(scalars[index..<(index + count)])), radix: 16)
                else { throw .invalid("a bad \\\(scalar) escape") }
                value = parsed
                index += count
            }
            guard value <= 0x10FFFF, !(0xD800...0xDFFF).contains(value) else {
                throw .unsupported("escapes of surrogates or values beyond U+10FFFF")
            }
            return [value...value]
        case "b", "B": throw .unsupported("word boundaries")
        case "p", "P": throw .unsupported("Unicode property escapes")
        case "k": throw .unsupported("named backreferences")
        case "c": throw .unsupported("control escapes (\\c)")
        default:
            if scalar.properties.numericType != nil, scalar.isASCII { throw .unsupported("backreferences") }
            if scalar.isASCII, scalar.properties.isAlphabetic { throw .invalid("an unknown escape \\\(scalar)") }
            return [scalar.value...scalar.value]
        }
    }

    /// One character from `ranges`, as it is written inside a JSON string.
    static func characters(_ ranges: [ClosedRange<UInt32>]) -> GrammarExpression {
        let normalized = UTF8Ranges.normalize(ranges)
        let special: [ClosedRange<UInt32>] = [0x00...0x1F, 0x22...0x22, 0x5C...0x5C]
        let raw = UTF8Ranges.normalize(UTF8Ranges.complement(UTF8Ranges.complement(normalized) + special))
        var alternatives: [GrammarExpression] = []
        if !raw.isEmpty { alternatives.append(UTF8Ranges.expression(raw)) }
        for value in [UInt32](0...0x1F) + [0x22, 0x5C] where normalized.contains(where: { $0.contains(value) }) {
            guard let scalar = Unicode.Scalar(value) else { continue }
            alternatives.append(.literal(Array(JSONNode.quoted(String(scalar)).utf8.dropFirst().dropLast())))
        }
        return alternatives.count == 1 ? alternatives[0] : .choice(alternatives)
    }
}
