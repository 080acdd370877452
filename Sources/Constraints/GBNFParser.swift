// GBNF, llama.cpp's grammar format (llama.cpp grammars/README.md, src/llama-grammar.cpp
// `llama_grammar_parser`):
//
//   root   ::= object
//   object ::= "{" ws ( pair ( "," ws pair )* )? "}"   # comment
//   char   ::= [^"\\\x7F\x00-\x1F] | "\\" ["\\/bfnrt]
//
// Literals and character classes are Unicode code points (`\xHH`, `\uHHHH`, `\UHHHHHHHH`,
// `\t \r \n \\ \" \[ \]` escapes), `.` is any code point, `* + ?` and `{m}`, `{m,}`, `{m,n}`,
// `{,n}` repeat. A rule ends at the end of its line unless inside parentheses or after `|` or
// `::=`; a line starting with `|` continues the previous rule. Rule names are letters, digits,
// `-` and `_`. Token references (`<...>`) are refused.

/// Parses GBNF text into a grammar definition; errors carry line and column.
struct GBNFParser {
    private let bytes: [UInt8]
    private var offset = 0
    private let limits: ConstraintLimits
    private var definition = GrammarDefinition()
    private var ruleIndex: [String: Int] = [:]
    private var defined: Set<String> = []
    /// Where each rule was first used, for "undefined rule" errors.
    private var firstUse: [String: Int] = [:]

    static func parse(_ text: String, limits: ConstraintLimits) throws(ConstraintError) -> GrammarDefinition {
        guard text.utf8.count <= limits.maxSourceBytes else {
            throw .tooLarge(message: "the grammar is longer than \(limits.maxSourceBytes) bytes", path: "")
        }
        var parser = GBNFParser(bytes: Array(text.utf8), limits: limits)
        return try parser.parseGrammar()
    }

    private init(bytes: [UInt8], limits: ConstraintLimits) {
        self.bytes = bytes
        self.limits = limits
    }

    private func location(_ at: Int) -> (line: Int, column: Int) {
        var line = 1
        var column = 1
        for byte in bytes[..<min(at, bytes.count)] {
            if byte == 0x0A {
                line += 1
                column = 1
            } else if byte & 0xC0 != 0x80 {
                column += 1
            }
        }
        return (line, column)
    }

    private func error(_ message: String, at: Int? = nil) -> ConstraintError {
        let (line, column) = location(at ?? offset)
        return .grammarSyntax(message: message, line: line, column: column)
    }

    private var current: UInt8? { offset < bytes.count ? bytes[offset] : nil }

    private static func isNameByte(_ byte: UInt8) -> Bool {
        (0x61...0x7A).contains(byte) || (0x41...0x5A).contains(byte) || (0x30...0x39).contains(byte) || byte == 0x2D || byte == 0x5F
    }

    /// Skips spaces, tabs and comments; newlines too when `newlines` is set.
    private mutating func skipSpace(newlines: Bool) {
        while let byte = current {
            if byte == 0x20 || byte == 0x09 || (newlines && (byte == 0x0A || byte == 0x0D)) {
                offset += 1
            } else if byte == 0x23 {  // '#' comment to the end of the line
                while let c = current, c != 0x0A { offset += 1 }
            } else {
                return
            }
        }
    }

    private mutating func parseGrammar() throws(ConstraintError) -> GrammarDefinition {
        skipSpace(newlines: true)
        while current != nil {
            try parseRule()
            skipSpace(newlines: true)
        }
        guard let root = ruleIndex["root"], defined.contains("root") else {
            throw .grammarSyntax(message: "the grammar has no 'root' rule", line: 1, column: 1)
        }
        for (name, use) in firstUse.sorted(by: { $0.value < $1.value }) where !defined.contains(name) {
            let (line, column) = location(use)
            throw .undefinedRule(name: name, line: line, column: column)
        }
        definition.root = root
        return definition
    }

    private mutating func name() throws(ConstraintError) -> String {
        let start = offset
        while let byte = current, Self.isNameByte(byte) { offset += 1 }
        guard offset > start else { throw error("expected a rule name") }
        return String(decoding: bytes[start..<offset], as: UTF8.self)
    }

    private mutating func index(of rule: String) -> Int {
        if let existing = ruleIndex[rule] { return existing }
        let index = definition.addRule(rule)
        ruleIndex[rule] = index
        return index
    }

    private mutating func parseRule() throws(ConstraintError) {
        let start = offset
        let ruleName = try name()
        skipSpace(newlines: false)
        guard offset + 2 < bytes.count, bytes[offset] == 0x3A, bytes[offset + 1] == 0x3A, bytes[offset + 2] == 0x3D else {
            throw error("expected '::=' after the rule name '\(ruleName)'")
        }
        offset += 3
        guard defined.insert(ruleName).inserted else { throw error("rule '\(ruleName)' is defined twice", at: start) }
        skipSpace(newlines: true)
        let body = try alternatives(depth: 0)
        definition.rules[index(of: ruleName)].body = body
        guard current == nil || current == 0x0A || current == 0x0D else {
            throw error("expected the end of the rule (a newline)")
        }
    }

    private mutating func alternatives(depth: Int) throws(ConstraintError) -> GrammarExpression {
        var choices = [try sequence(depth: depth)]
        while true {
            if current == 0x7C {  // '|'
                offset += 1
                skipSpace(newlines: true)
                choices.append(try sequence(depth: depth))
                continue
            }
            // A following line that starts with '|' continues the rule.
            if depth == 0, current == 0x0A || current == 0x0D {
                var lookahead = self
                lookahead.skipSpace(newlines: true)
                if lookahead.current == 0x7C {
                    self = lookahead
                    continue
                }
            }
            break
        }
        return choices.count == 1 ? choices[0] : .choice(choices)
    }

    private mutating func sequence(depth: Int) throws(ConstraintError) -> GrammarExpression {
        var items: [GrammarExpression] = []
        while let byte = current {
            let start = offset
            var item: GrammarExpression
            switch byte {
            case 0x22:  // '"'
                offset += 1
                var scalars: [UInt32] = []
                while true {
                    guard let c = current, c != 0x0A else { throw error("unterminated literal", at: start) }
                    if c == 0x22 {
                        offset += 1
                        break
                    }
                    scalars.append(try character())
                }
                item = .sequence(scalars.map { .literal(UTF8Ranges.encode($0)) })
            case 0x5B:  // '['
                offset += 1
                var negated = false
                if current == 0x5E {
                    negated = true
                    offset += 1
                }
                var ranges: [ClosedRange<UInt32>] = []
                while true {
                    guard let c = current, c != 0x0A else { throw error("unterminated character class", at: start) }
                    if c == 0x5D {
                        offset += 1
                        break
                    }
                    let low = try character()
                    var high = low
                    if current == 0x2D, offset + 1 < bytes.count, bytes[offset + 1] != 0x5D {
                        offset += 1
                        high = try character()
                    }
                    guard low <= high else { throw error("a character range must go upwards", at: start) }
                    ranges.append(low...high)
                }
                item = UTF8Ranges.expression(negated ? UTF8Ranges.complement(ranges) : ranges)
            case 0x2E:  // '.'
                offset += 1
                item = UTF8Ranges.expression([0...0x10FFFF])
            case 0x28:  // '('
                guard depth < limits.maxSourceDepth else { throw error("parentheses nest deeper than \(limits.maxSourceDepth)") }
                offset += 1
                skipSpace(newlines: true)
                item = try alternatives(depth: depth + 1)
                skipSpace(newlines: true)
                guard current == 0x29 else { throw error("expected ')'") }
                offset += 1
            case 0x3C:  // '<'
                throw error("token references ('<...>') are not supported")
            case _ where Self.isNameByte(byte):
                let reference = try name()
                // A name followed by '::=' starts the next rule: this sequence has ended.
                var lookahead = self
                lookahead.skipSpace(newlines: false)
                if lookahead.offset + 2 < bytes.count, bytes[lookahead.offset] == 0x3A, bytes[lookahead.offset + 1] == 0x3A {
                    offset = start
                    return .sequence(items)
                }
                if firstUse[reference] == nil { firstUse[reference] = start }
                item = .rule(index(of: reference))
            default:
                return .sequence(items)
            }
            item = try repetition(of: item)
            items.append(item)
            skipSpace(newlines: depth > 0)
        }
        return .sequence(items)
    }

    private mutating func repetition(of item: GrammarExpression) throws(ConstraintError) -> GrammarExpression {
        switch current {
        case 0x2A:
            offset += 1
            return item.zeroOrMore
        case 0x2B:
            offset += 1
            return item.oneOrMore
        case 0x3F:
            offset += 1
            return item.optional
        case 0x7B:
            let start = offset
            offset += 1
            skipSpace(newlines: false)
            let low = try number() ?? 0
            skipSpace(newlines: false)
            var high: Int? = low
            if current == 0x2C {
                offset += 1
                skipSpace(newlines: false)
                high = try number()
                skipSpace(newlines: false)
            }
            guard current == 0x7D else { throw error("expected '}' after a repetition count", at: start) }
            offset += 1
            if let high, high < low { throw error("a repetition's maximum is below its minimum", at: start) }
            guard low <= limits.maxRepetition, (high ?? 0) <= limits.maxRepetition else {
                throw .tooLarge(message: "a repetition count above \(limits.maxRepetition) at line \(location(start).line)", path: "")
            }
            return .repetition(item, min: low, max: high)
        default:
            return item
        }
    }

    private mutating func number() throws(ConstraintError) -> Int? {
        let start = offset
        while let byte = current, (0x30...0x39).contains(byte) { offset += 1 }
        guard offset > start else { return nil }
        guard offset - start <= 9, let value = Int(String(decoding: bytes[start..<offset], as: UTF8.self)) else {
            throw error("a repetition count is too large", at: start)
        }
        return value
    }

    /// One character of a literal or class: a UTF-8 scalar or an escape.
    private mutating func character() throws(ConstraintError) -> UInt32 {
        guard let byte = current else { throw error("unexpected end of grammar") }
        if byte != 0x5C {
            let length = byte < 0x80 ? 1 : byte >= 0xF0 ? 4 : byte >= 0xE0 ? 3 : 2
            guard offset + length <= bytes.count, let text = String(validating: bytes[offset..<(offset + length)], as: UTF8.self),
                let scalar = text.unicodeScalars.first
            else { throw error("invalid UTF-8") }
            offset += length
            return scalar.value
        }
        let start = offset
        offset += 1
        guard let escape = current else { throw error("unterminated escape", at: start) }
        offset += 1
        switch escape {
        case 0x6E: return 0x0A  // n
        case 0x72: return 0x0D  // r
        case 0x74: return 0x09  // t
        case 0x5C, 0x22, 0x5B, 0x5D, 0x2D, 0x5E, 0x2F: return UInt32(escape)
        case 0x78, 0x75, 0x55:  // x u U
            let count = escape == 0x78 ? 2 : escape == 0x75 ? 4 : 8
            guard offset + count <= bytes.count,
                let value = UInt32(String(decoding: bytes[offset..<(offset + count)], as: UTF8.self), radix: 16)
            else { throw error("expected \(count) hex digits", at: start) }
            offset += count
            guard value <= 0x10FFFF, !(0xD800...0xDFFF).contains(value) else {
                throw error("not a Unicode scalar value", at: start)
            }
            return value
        default:
            throw error("unknown escape", at: start)
        }
    }
}
