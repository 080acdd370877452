/// `type: integer` with `minimum`, `maximum`, `exclusiveMinimum`, `exclusiveMaximum`.
extension JSONSchemaTranslator {
    static let numericBounds = ["minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"]

    /// Whether the schema's bounds apply to integers only (so the automaton can enforce them).
    static func boundsAreIntegral(_ schema: JSONNode) -> Bool {
        switch schema["type"] {
        case .string("integer")?: return true
        case .array(let types)?: return types.contains(.string("integer")) && !types.contains(.string("number"))
        default: return false
        }
    }

    mutating func integer(_ schema: JSONNode, path: String) throws(ConstraintError) -> GrammarExpression {
        var low: Int64?
        var high: Int64?
        for keyword in Self.numericBounds {
            guard let value = schema[keyword] else { continue }
            let keywordPath = Self.join(path, keyword)
            guard case .number(let text) = value, let number = Double(text) else {
                throw .invalidSchema(message: "'\(keyword)' must be a number", path: keywordPath)
            }
            guard abs(number) < 1e18 else {
                throw .tooLarge(message: "integer bounds beyond ±10^18 cannot be enforced", path: keywordPath)
            }
            // The tightest integer bound: minimum 2.5 → 3, exclusiveMinimum 2 → 3.
            switch keyword {
            case "minimum": low = max(low ?? .min, Int64(number.rounded(.up)))
            case "exclusiveMinimum": low = max(low ?? .min, Int64(number.rounded(.down)) + 1)
            case "maximum": high = min(high ?? .max, Int64(number.rounded(.down)))
            default: high = min(high ?? .max, Int64(number.rounded(.up)) - 1)
            }
        }
        if low == nil && high == nil { return JSONGrammar.integer }
        if let low, let high, low > high { return .nothing }
        return IntegerRange.expression(low: low, high: high)
    }
}
