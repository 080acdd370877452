// JSON Schema (the subset OpenAI's strict mode accepts, and a little more) → grammar
// definition. Reference: JSON Schema 2020-12 (json-schema.org/draft/2020-12) for semantics;
// llama.cpp's json-schema-to-grammar for the practical choices (property order, whitespace).
//
// - Objects: properties in the schema's order; required ones must appear, optional ones may be
//   left out; extra properties (when `additionalProperties` is true, a schema, or absent) come
//   after the declared ones, with keys that are not a declared key's canonical spelling.
// - `enum`/`const` values are produced in canonical compact JSON (`JSONNode.canonicalText`).
// - `$ref` to "#" or a JSON pointer into the document ("#/$defs/node"): each target is one rule,
//   so references may recurse (trees, linked lists).
// - `anyOf` (and `oneOf` when not strict, as anyOf), `allOf` with one member.
// - Strings: lengths, `pattern` (`JSONPattern`), `format` date/time/date-time/uuid; integers:
//   `minimum`/`maximum` and exclusive forms (`IntegerRange`).
// - Keywords: see `JSONSchemaKeywords`.

/// Translates one schema document.
struct JSONSchemaTranslator {
    let root: JSONNode
    let strict: Bool
    let limits: ConstraintLimits
    var definition = GrammarDefinition()
    private var nodes = 0
    private var generic: (value: GrammarExpression, object: Int, array: Int)?
    /// A call of the shared `ws` rule.
    var ws = GrammarExpression.empty
    private var referenceRules: [String: Int] = [:]
    private var pending: [(pointer: String, rule: Int, path: String)] = []

    init(root: JSONNode, strict: Bool, limits: ConstraintLimits) {
        self.root = root
        self.strict = strict
        self.limits = limits
    }

    mutating func translate() throws(ConstraintError) -> GrammarDefinition {
        let top = definition.addRule("root")
        definition.root = top
        ws = JSONGrammar.addWhitespaceRule(to: &definition)
        let body = try expression(root, path: "")
        // A leading gap, none after: the document ends with its value's last byte.
        definition.rules[top].body = .sequence([ws, body])
        while let next = pending.popLast() {
            let (node, path) = try resolve(next.pointer, at: next.path)
            definition.rules[next.rule].body = try expression(node, path: path)
        }
        return definition
    }

    static func join(_ path: String, _ key: String) -> String { path.isEmpty ? key : path + "." + key }

    static func join(_ path: String, index: Int) -> String { path + "[\(index)]" }

    /// Any JSON value (the `true` schema, `{}`).
    mutating func anyValue() -> GrammarExpression {
        if let generic { return generic.value }
        let added = JSONGrammar.addGenericRules(to: &definition, ws: ws)
        generic = added
        return added.value
    }

    /// The grammar of `schema`; throws `.acceptsNothing` when no value matches it, except for
    /// the `false` schema, which callers that can do without the value handle themselves.
    mutating func expression(_ schema: JSONNode, path: String) throws(ConstraintError) -> GrammarExpression {
        nodes += 1
        guard nodes <= limits.maxSchemaNodes else {
            throw .tooLarge(message: "more than \(limits.maxSchemaNodes) schema nodes", path: path)
        }
        switch schema {
        case .bool(true): return anyValue()
        case .bool(false): return .nothing
        case .object(let members):
            let result = try objectSchema(members, schema: schema, path: path)
            if result.isNothing { throw .acceptsNothing(path: path) }
            return result
        default:
            throw .invalidSchema(message: "a schema must be an object or a boolean, got \(schema.typeName)", path: path)
        }
    }

    private mutating func objectSchema(
        _ members: [(String, JSONNode)], schema: JSONNode, path: String
    ) throws(ConstraintError) -> GrammarExpression {
        try checkKeywords(members, schema: schema, path: path)
        let assertions = members.map(\.0).filter { !JSONSchemaKeywords.annotations.contains($0) }

        if let reference = schema["$ref"] {
            try requireAlone("$ref", among: assertions, path: path)
            guard case .string(let pointer) = reference else {
                throw .invalidSchema(message: "'$ref' must be a string", path: Self.join(path, "$ref"))
            }
            return .rule(try rule(for: pointer, path: Self.join(path, "$ref")))
        }
        for combinator in ["anyOf", "oneOf", "allOf"] {
            guard let value = schema[combinator] else { continue }
            try requireAlone(combinator, among: assertions, path: path)
            return try combination(combinator, value, path: Self.join(path, combinator))
        }
        if schema["enum"] != nil || schema["const"] != nil {
            return try enumeration(schema, assertions: assertions, path: path)
        }
        let types = try typeNames(schema, assertions: assertions, path: path)
        guard let types else { return anyValue() }
        var alternatives: [GrammarExpression] = []
        for type in types {
            switch type {
            case "object": alternatives.append(try object(schema, path: path))
            case "array": alternatives.append(try array(schema, path: path))
            case "string": alternatives.append(try string(schema, path: path))
            case "number": alternatives.append(JSONGrammar.number)
            case "integer": if !types.contains("number") { alternatives.append(try integer(schema, path: path)) }
            case "boolean": alternatives.append(JSONGrammar.boolean)
            default: alternatives.append(JSONGrammar.null)
            }
        }
        let alive = alternatives.filter { !$0.isNothing }
        return alive.count == 1 ? alive[0] : .choice(alive)
    }

    /// Refuses keywords the automaton cannot enforce (see `JSONSchemaKeywords`).
    private func checkKeywords(_ members: [(String, JSONNode)], schema: JSONNode, path: String) throws(ConstraintError) {
        for (key, value) in members {
            if JSONSchemaKeywords.annotations.contains(key) || JSONSchemaKeywords.supported.contains(key) { continue }
            if JSONSchemaKeywords.structural.contains(key) {
                throw .unsupportedKeyword(keyword: key, path: Self.join(path, key), reason: "structured output cannot enforce it")
            }
            if JSONSchemaKeywords.refinements.contains(key) {
                if key == "uniqueItems", value == .bool(false) { continue }
                if Self.numericBounds.contains(key), Self.boundsAreIntegral(schema) { continue }
                if strict {
                    throw .unsupportedKeyword(
                        keyword: key, path: Self.join(path, key),
                        reason: "structured output cannot enforce it (without \"strict\": true it is ignored)")
                }
                continue
            }
            if strict {
                throw .unsupportedKeyword(keyword: key, path: Self.join(path, key), reason: "unknown keyword")
            }
        }
    }

    /// `$ref` and the combinators accept only annotations beside them.
    private func requireAlone(_ keyword: String, among assertions: [String], path: String) throws(ConstraintError) {
        for other in assertions where other != keyword {
            // Without strict, refinements and unknown keywords are ignored here as everywhere.
            guard strict || JSONSchemaKeywords.supported.contains(other) else { continue }
            throw .unsupportedKeyword(
                keyword: other, path: Self.join(path, other), reason: "only annotations may stand beside '\(keyword)'")
        }
    }

    private mutating func combination(_ keyword: String, _ value: JSONNode, path: String) throws(ConstraintError) -> GrammarExpression {
        guard case .array(let schemas) = value, !schemas.isEmpty else {
            throw .invalidSchema(message: "'\(keyword)' must be a non-empty array of schemas", path: path)
        }
        switch keyword {
        case "allOf":
            guard schemas.count == 1 else {
                throw .unsupportedKeyword(keyword: keyword, path: path, reason: "only an allOf with a single schema is supported")
            }
            return try expression(schemas[0], path: Self.join(path, index: 0))
        case "oneOf" where strict:
            throw .unsupportedKeyword(
                keyword: keyword, path: path, reason: "exclusive alternatives cannot be enforced; use anyOf")
        default:
            var alternatives: [GrammarExpression] = []
            for (index, schema) in schemas.enumerated() {
                let alternative = try expression(schema, path: Self.join(path, index: index))
                if !alternative.isNothing { alternatives.append(alternative) }
            }
            return .choice(alternatives)
        }
    }

    private mutating func enumeration(
        _ schema: JSONNode, assertions: [String], path: String
    ) throws(ConstraintError) -> GrammarExpression {
        for other in assertions where strict && !["enum", "const", "type"].contains(other) {
            throw .unsupportedKeyword(keyword: other, path: Self.join(path, other), reason: "only 'type' may stand beside enum or const")
        }
        var values: [JSONNode] = []
        if let constant = schema["const"] { values.append(constant) }
        if let list = schema["enum"] {
            guard case .array(let items) = list else {
                throw .invalidSchema(message: "'enum' must be an array", path: Self.join(path, "enum"))
            }
            values = schema["const"] == nil ? items : values.filter { items.contains($0) }
        }
        if let types = try typeNames(schema, assertions: ["type"], path: path) {
            values = values.filter { value in
                switch value {
                case .null: return types.contains("null")
                case .bool: return types.contains("boolean")
                case .number: return types.contains("number") || (types.contains("integer") && value.isIntegerLiteral)
                case .string: return types.contains("string")
                case .array: return types.contains("array")
                case .object: return types.contains("object")
                }
            }
        }
        return .choice(values.map { .literal($0.canonicalText) })
    }

    /// The `type` list, or one inferred from type-specific keywords; nil: any type.
    private func typeNames(_ schema: JSONNode, assertions: [String], path: String) throws(ConstraintError) -> [String]? {
        let typePath = Self.join(path, "type")
        switch schema["type"] {
        case .string(let name)?:
            guard JSONSchemaKeywords.typeNames.contains(name) else {
                throw .invalidSchema(message: "unknown type '\(name)'", path: typePath)
            }
            return [name]
        case .array(let items)?:
            var names: [String] = []
            for item in items {
                guard case .string(let name) = item, JSONSchemaKeywords.typeNames.contains(name) else {
                    throw .invalidSchema(message: "'type' must name JSON types", path: typePath)
                }
                if !names.contains(name) { names.append(name) }
            }
            guard !names.isEmpty else { throw .invalidSchema(message: "'type' must not be empty", path: typePath) }
            return names
        case nil:
            let keys = Set(assertions)
            var inferred: [String] = []
            if !keys.isDisjoint(with: JSONSchemaKeywords.objectKeywords) { inferred.append("object") }
            if !keys.isDisjoint(with: JSONSchemaKeywords.arrayKeywords) { inferred.append("array") }
            if !keys.isDisjoint(with: JSONSchemaKeywords.stringKeywords) { inferred.append("string") }
            return inferred.isEmpty ? nil : inferred
        case let other?:
            throw .invalidSchema(message: "'type' must be a string or an array of strings, got \(other.typeName)", path: typePath)
        }
    }

    // MARK: References

    private mutating func rule(for pointer: String, path: String) throws(ConstraintError) -> Int {
        if let existing = referenceRules[pointer] { return existing }
        guard pointer.hasPrefix("#") else {
            throw .unsupportedKeyword(keyword: "$ref", path: path, reason: "only references within the schema ('#/...') are supported")
        }
        _ = try resolve(pointer, at: path)  // fail here, with the referring path, if it points nowhere
        let rule = definition.addRule(pointer)
        referenceRules[pointer] = rule
        pending.append((pointer, rule, path))
        return rule
    }

    /// The schema a local reference points to, and its path for error messages.
    private func resolve(_ pointer: String, at path: String) throws(ConstraintError) -> (JSONNode, String) {
        var node = root
        var targetPath = ""
        let fragment = pointer.dropFirst()
        guard fragment.isEmpty || fragment.hasPrefix("/") else {
            throw .unsupportedKeyword(keyword: "$ref", path: path, reason: "only JSON-pointer references ('#/$defs/name') are supported")
        }
        for rawToken in fragment.split(separator: "/", omittingEmptySubsequences: false).dropFirst() {
            let token = Self.decodePointerToken(String(rawToken))
            switch node {
            case .object:
                guard let child = node[token] else {
                    throw .invalidSchema(message: "'\(pointer)' does not point into the schema", path: path)
                }
                node = child
                targetPath = Self.join(targetPath, token)
            case .array(let items):
                guard let index = Int(token), items.indices.contains(index) else {
                    throw .invalidSchema(message: "'\(pointer)' does not point into the schema", path: path)
                }
                node = items[index]
                targetPath = Self.join(targetPath, index: index)
            default:
                throw .invalidSchema(message: "'\(pointer)' does not point into the schema", path: path)
            }
        }
        return (node, targetPath)
    }

    /// JSON pointer unescaping (`~1` → `/`, `~0` → `~`) after URI percent-decoding.
    static func decodePointerToken(_ token: String) -> String {
        var bytes: [UInt8] = []
        var utf8 = Array(token.utf8)[...]
        while let byte = utf8.popFirst() {
            if byte == UInt8(ascii: "%"), utf8.count >= 2,
                let value = UInt8(String(decoding: utf8.prefix(2), as: UTF8.self), radix: 16)
            {
                bytes.append(value)
                utf8 = utf8.dropFirst(2)
            } else {
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self).replacingOccurrences("~1", with: "/").replacingOccurrences("~0", with: "~")
    }
}

extension String {
    /// Plain substring replacement (Constraints does not import Foundation).
    func replacingOccurrences(_ target: String, with replacement: String) -> String {
        guard !target.isEmpty else { return self }
        var result = ""
        var rest = self[...]
        while let range = rest.firstRange(of: target) {
            result += rest[..<range.lowerBound]
            result += replacement
            rest = rest[range.upperBound...]
        }
        return result + rest
    }
}
