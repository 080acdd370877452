/// `type: string`: lengths and the formats the automaton can enforce.
extension JSONSchemaTranslator {
    mutating func string(_ schema: JSONNode, path: String) throws(ConstraintError) -> GrammarExpression {
        if let pattern = try self.pattern(schema, path: path) { return pattern }
        if case .string(let format)? = schema["format"] {
            if let expression = JSONFormats.expression(format) {
                if strict, schema["minLength"] != nil || schema["maxLength"] != nil {
                    throw .unsupportedKeyword(
                        keyword: schema["minLength"] != nil ? "minLength" : "maxLength",
                        path: Self.join(path, schema["minLength"] != nil ? "minLength" : "maxLength"),
                        reason: "lengths cannot be combined with 'format'")
                }
                return JSONGrammar.quoted(expression)
            }
            if strict {
                throw .unsupportedKeyword(
                    keyword: "format", path: Self.join(path, "format"),
                    reason: "format '\(format)' is not enforced (supported: \(JSONSchemaKeywords.formats.sorted().joined(separator: ", ")))")
            }
        } else if let other = schema["format"] {
            throw .invalidSchema(message: "'format' must be a string, got \(other.typeName)", path: Self.join(path, "format"))
        }
        let minLength = try count("minLength", in: schema, path: path) ?? 0
        let maxLength = try count("maxLength", in: schema, path: path)
        if minLength == 0 && maxLength == nil { return JSONGrammar.string }
        if let maxLength, maxLength < minLength { return .nothing }
        for (keyword, value) in [("minLength", minLength), ("maxLength", maxLength ?? 0)] where value > limits.maxRepetition {
            throw .tooLarge(message: "string lengths above \(limits.maxRepetition) cannot be enforced", path: Self.join(path, keyword))
        }
        return JSONGrammar.string(minLength: minLength, maxLength: maxLength)
    }
}

extension JSONSchemaTranslator {
    /// The grammar of `pattern` when it is given and supported. An unsupported pattern, or one
    /// combined with other string keywords, is refused when strict and ignored otherwise.
    mutating func pattern(_ schema: JSONNode, path: String) throws(ConstraintError) -> GrammarExpression? {
        guard let value = schema["pattern"] else { return nil }
        let patternPath = Self.join(path, "pattern")
        guard case .string(let pattern) = value else {
            throw .invalidSchema(message: "'pattern' must be a string, got \(value.typeName)", path: patternPath)
        }
        for other in ["format", "minLength", "maxLength"] where schema[other] != nil {
            guard strict else { return nil }
            throw .unsupportedKeyword(keyword: other, path: Self.join(path, other), reason: "it cannot be combined with 'pattern'")
        }
        let result: Result<GrammarExpression, JSONPattern.Failure>
        do {
            result = .success(try JSONPattern.expression(pattern, maxRepetition: limits.maxRepetition))
        } catch {
            result = .failure(error)
        }
        switch result {
        case .success(let expression):
            return expression
        case .failure(.invalid(let message)):
            throw .invalidSchema(message: "'pattern' is not a valid regular expression: \(message)", path: patternPath)
        case .failure(.unsupported(let feature)):
            guard strict else { return nil }
            throw .unsupportedKeyword(keyword: "pattern", path: patternPath, reason: "\(feature) cannot be enforced")
        }
    }
}

/// String formats as regular expressions (RFC 3339 date, time and date-time; RFC 4122 UUID).
enum JSONFormats {
    static func expression(_ format: String) -> GrammarExpression? {
        switch format {
        case "date": return date
        case "time": return time
        case "date-time": return .sequence([date, .byteSet(ByteSet(Array("Tt".utf8))), time])
        case "uuid": return uuid
        default: return nil
        }
    }

    private static let digit = JSONGrammar.digit

    private static func digits(_ count: Int) -> GrammarExpression { .repetition(digit, min: count, max: count) }

    private static let date: GrammarExpression = .sequence([
        digits(4), .literal("-"),
        .choice([.sequence([.byte(0x30), .bytes(0x31...0x39)]), .sequence([.byte(0x31), .bytes(0x30...0x32)])]),
        .literal("-"),
        .choice([
            .sequence([.byte(0x30), .bytes(0x31...0x39)]), .sequence([.bytes(0x31...0x32), digit]),
            .sequence([.byte(0x33), .bytes(0x30...0x31)]),
        ]),
    ])

    private static let hour: GrammarExpression = .choice([
        .sequence([.bytes(0x30...0x31), digit]), .sequence([.byte(0x32), .bytes(0x30...0x33)]),
    ])
    private static let minute: GrammarExpression = .sequence([.bytes(0x30...0x35), digit])

    private static let time: GrammarExpression = .sequence([
        hour, .literal(":"), minute, .literal(":"), .choice([minute, .literal("60")]),
        .sequence([.literal("."), .repetition(digit, min: 1, max: 9)]).optional,
        .choice([
            .byteSet(ByteSet(Array("Zz".utf8))),
            .sequence([.byteSet(ByteSet(Array("+-".utf8))), hour, .literal(":"), minute]),
        ]),
    ])

    private static func hex(_ count: Int) -> GrammarExpression { .repetition(JSONGrammar.hexDigit, min: count, max: count) }

    private static let uuid: GrammarExpression = .sequence([
        hex(8), .literal("-"), hex(4), .literal("-"), hex(4), .literal("-"), hex(4), .literal("-"), hex(12),
    ])
}

extension JSONGrammar {
    /// A string whose text is not the canonical spelling of any of `names` (the keys of extra
    /// properties, so that they do not repeat a declared one). A declared key written with
    /// other escapes (`\u0061` for `a`) is not caught.
    static func string(excluding names: [String]) -> GrammarExpression {
        guard !names.isEmpty else { return string }
        // A trie over the characters of the names, each character as its canonical text.
        final class Node {
            var children: [(unit: [UInt8], scalar: Unicode.Scalar, node: Node)] = []
            var terminal = false
        }
        let root = Node()
        for name in names {
            var node = root
            for scalar in name.unicodeScalars {
                let unit = Array(JSONNode.quoted(String(scalar)).utf8.dropFirst().dropLast())
                if let child = node.children.first(where: { $0.unit == unit }) {
                    node = child.node
                } else {
                    let child = Node()
                    node.children.append((unit, scalar, child))
                    node = child
                }
            }
            node.terminal = true
        }
        let rest = GrammarExpression.sequence([character.zeroOrMore, .byte(0x22)])
        func expression(_ node: Node) -> GrammarExpression {
            var alternatives: [GrammarExpression] = []
            if !node.terminal { alternatives.append(.byte(0x22)) }
            var excludedScalars: [ClosedRange<UInt32>] = [0x00...0x1F, 0x22...0x22, 0x5C...0x5C]
            var excludedEscapes = ByteSet()
            for child in node.children {
                alternatives.append(.sequence([.literal(child.unit), expression(child.node)]))
                if child.unit.first == 0x5C, child.unit.count == 2 {
                    excludedEscapes.insert(child.unit[1])
                } else if child.unit.first != 0x5C {
                    excludedScalars.append(child.scalar.value...child.scalar.value)
                }
            }
            // Any other character leaves the trie: the rest is free.
            let plain = UTF8Ranges.expression(UTF8Ranges.complement(excludedScalars))
            let simpleEscapes = ByteSet(Array("\"\\/bfnrt".utf8))
            var escapeChoices: [GrammarExpression] = [.sequence([.byte(0x75), unicodeEscapeBody])]
            let remaining = simpleEscapes.members.filter { !excludedEscapes.contains($0) }
            if !remaining.isEmpty { escapeChoices.append(.byteSet(ByteSet(remaining))) }
            let other = GrammarExpression.choice([plain, .sequence([.byte(0x5C), .choice(escapeChoices)])])
            alternatives.append(.sequence([other, rest]))
            return .choice(alternatives)
        }
        return .sequence([.byte(0x22), expression(root)])
    }
}
