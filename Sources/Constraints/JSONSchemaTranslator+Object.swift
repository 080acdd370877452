/// `type: object`: declared properties in order, then extra properties when allowed.
extension JSONSchemaTranslator {
    mutating func object(_ schema: JSONNode, path: String) throws(ConstraintError) -> GrammarExpression {
        var declared: [(name: String, value: GrammarExpression, required: Bool)] = []
        var required = Set<String>()
        if let list = schema["required"] {
            let requiredPath = Self.join(path, "required")
            guard case .array(let items) = list else {
                throw .invalidSchema(message: "'required' must be an array of strings", path: requiredPath)
            }
            for item in items {
                guard case .string(let name) = item else {
                    throw .invalidSchema(message: "'required' must be an array of strings", path: requiredPath)
                }
                required.insert(name)
            }
        }
        var names = Set<String>()
        if let properties = schema["properties"] {
            let propertiesPath = Self.join(path, "properties")
            guard case .object(let members) = properties else {
                throw .invalidSchema(message: "'properties' must be an object", path: propertiesPath)
            }
            for (name, propertySchema) in members {
                names.insert(name)
                let propertyPath = Self.join(propertiesPath, name)
                let value = try expression(propertySchema, path: propertyPath)
                if value.isNothing {
                    // `false`: the property may not appear.
                    if required.contains(name) { throw .acceptsNothing(path: propertyPath) }
                    continue
                }
                declared.append((name, value, required.contains(name)))
            }
        }
        for name in required.sorted() where !names.contains(name) {
            throw .unsupportedKeyword(
                keyword: "required", path: Self.join(path, "required"),
                reason: "required property '\(name)' must be declared in 'properties'")
        }

        // Extra properties: `additionalProperties` true, absent, or a schema.
        var extraValue: GrammarExpression?
        switch schema["additionalProperties"] {
        case nil, .bool(true)?: extraValue = anyValue()
        case .bool(false)?: extraValue = nil
        case let extra?:
            let value = try expression(extra, path: Self.join(path, "additionalProperties"))
            extraValue = value.isNothing ? nil : value
        }

        let ws = JSONGrammar.whitespace
        func member(_ key: GrammarExpression, _ value: GrammarExpression) -> GrammarExpression {
            .sequence([key, ws, .byte(0x3A), ws, value, ws])
        }
        let comma = GrammarExpression.sequence([.byte(0x2C), ws])
        var extras: (first: GrammarExpression, later: GrammarExpression) = (.empty, .empty)
        if let extraValue {
            let extra = member(JSONGrammar.string(excluding: declared.map(\.name)), extraValue)
            let more = GrammarExpression.sequence([comma, extra]).zeroOrMore
            extras = (GrammarExpression.sequence([extra, more]).optional, more)
        }
        // members(i, first): properties i... where `first` means none has been written yet (no
        // comma before the next one). Built from the end.
        var later = extras.later  // members(i, false)
        var first = extras.first  // members(i, true)
        for property in declared.reversed() {
            let kv = member(.literal(JSONNode.quoted(property.name)), property.value)
            let asFirst = GrammarExpression.sequence([kv, later])
            if property.required {
                later = .sequence([comma, kv, later])
                first = asFirst
            } else {
                later = .sequence([GrammarExpression.sequence([comma, kv]).optional, later])
                first = .choice([asFirst, first])
            }
        }
        return .sequence([.byte(0x7B), ws, first, .byte(0x7D)])
    }
}
