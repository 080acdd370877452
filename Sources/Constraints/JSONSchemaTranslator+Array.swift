/// `type: array`: `prefixItems` (or draft-07's array form of `items`), then `items`, within
/// `minItems`...`maxItems`.
extension JSONSchemaTranslator {
    mutating func array(_ schema: JSONNode, path: String) throws(ConstraintError) -> GrammarExpression {
        let ws = self.ws
        var prefix: [GrammarExpression] = []
        var prefixSchemas: [JSONNode] = []
        var prefixPath = Self.join(path, "prefixItems")
        var restSchema: JSONNode? = schema["items"]
        var restPath = Self.join(path, "items")
        if case .array(let items)? = schema["prefixItems"] {
            prefixSchemas = items
        } else if let other = schema["prefixItems"] {
            throw .invalidSchema(message: "'prefixItems' must be an array of schemas, got \(other.typeName)", path: prefixPath)
        }
        if case .array(let items)? = schema["items"] {
            // Draft 2019 and earlier: a tuple in `items`, the rest in `additionalItems`.
            prefixSchemas = items
            prefixPath = restPath
            restSchema = schema["additionalItems"]
            restPath = Self.join(path, "additionalItems")
        }
        for (index, item) in prefixSchemas.enumerated() {
            let element = try expression(item, path: Self.join(prefixPath, index: index))
            if element.isNothing { break }  // `false`: no element may stand here, nor after it
            prefix.append(element)
        }
        var rest: GrammarExpression? = anyValue()
        if let restSchema {
            let element = try expression(restSchema, path: restPath)
            rest = element.isNothing ? nil : element
        }
        if prefix.count < prefixSchemas.count { rest = nil }

        let minItems = try count("minItems", in: schema, path: path) ?? 0
        var maxItems = try count("maxItems", in: schema, path: path)
        if rest == nil { maxItems = min(maxItems ?? prefix.count, prefix.count) }
        if let maxItems, maxItems < minItems { return .nothing }
        guard minItems <= limits.maxRepetition, (maxItems ?? 0) <= limits.maxRepetition || rest == nil else {
            throw .tooLarge(
                message: "item counts above \(limits.maxRepetition) cannot be enforced",
                path: Self.join(path, maxItems.map { $0 > limits.maxRepetition } == true ? "maxItems" : "minItems"))
        }

        func element(_ index: Int) -> GrammarExpression {
            .sequence([index < prefix.count ? prefix[index] : (rest ?? .nothing), ws])
        }
        // tail(i): the elements after the first i, each preceded by a comma.
        func tail(_ index: Int) -> GrammarExpression {
            if let maxItems, index >= maxItems { return .empty }
            if index >= prefix.count {
                guard let rest else { return .empty }
                return .repetition(
                    .sequence([.byte(0x2C), ws, rest, ws]), min: max(0, minItems - index), max: maxItems.map { $0 - index })
            }
            let more = GrammarExpression.sequence([.byte(0x2C), ws, element(index), tail(index + 1)])
            return index < minItems ? more : more.optional
        }
        var body = GrammarExpression.empty
        if maxItems != 0, prefix.count > 0 || rest != nil {
            let elements = GrammarExpression.sequence([element(0), tail(1)])
            body = minItems > 0 ? elements : elements.optional
        }
        return .sequence([.byte(0x5B), ws, body, .byte(0x5D)])
    }

    /// A non-negative integer keyword.
    func count(_ keyword: String, in schema: JSONNode, path: String) throws(ConstraintError) -> Int? {
        guard let value = schema[keyword] else { return nil }
        guard case .number(let text) = value, value.isIntegerLiteral, let count = Int(text), count >= 0 else {
            if case .number(let text) = value, let double = Double(text), double >= 0, double.rounded() == double, double < 1e9 {
                return Int(double)
            }
            throw .invalidSchema(message: "'\(keyword)' must be a non-negative integer", path: Self.join(path, keyword))
        }
        return count
    }
}
