/// `type: object`: declared properties in order, then extra properties when allowed.
extension JSONSchemaTranslator {
    mutating func object(_ schema: JSONNode, path: String) throws(ConstraintError) -> GrammarExpression {
        let ws = self.ws
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

        func member(_ key: GrammarExpression, _ value: GrammarExpression) -> GrammarExpression {
            .sequence([key, ws, .byte(0x3A), ws, value, ws])
        }
        var items = declared.map { ListItem(body: member(.literal(JSONNode.quoted($0.name)), $0.value), required: $0.required) }
        if let extraValue {
            items.append(ListItem(
                body: member(JSONGrammar.string(excluding: declared.map(\.name)), extraValue), required: false, repeatable: true))
        }
        let members = GrammarExpression.list(items, separator: .sequence([.byte(0x2C), ws]))
        return .sequence([.byte(0x7B), ws, members, .byte(0x7D)])
    }
}
