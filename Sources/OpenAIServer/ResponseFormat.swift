import ServingTypes

/// `response_format` (chat, and as an extension /v1/completions): `{"type": "text"}`,
/// `{"type": "json_object"}` or `{"type": "json_schema", "json_schema": {"name", "description",
/// "schema", "strict"}}`, turned into the constraint the engine carries.
enum ResponseFormat {
    /// The constraint, nil for text. Validates the schema by compiling it (400 naming the
    /// keyword's path on failure).
    static func parse(_ value: JSONValue, param: String = "response_format") throws(APIError) -> OutputConstraint? {
        guard case .object = value else {
            throw APIError.invalidRequest("'\(param)' must be an object, got \(value.typeName).", param: param, code: "invalid_type")
        }
        var fields = FieldReader(value, path: param + ".")
        guard let type = try fields.string("type") else {
            throw APIError.invalidRequest("'\(param).type' is required.", param: param + ".type", code: "missing_required_parameter")
        }
        let constraint: OutputConstraint?
        switch type {
        case "text":
            constraint = nil
        case "json_object":
            constraint = .jsonObject
        case "json_schema":
            let schemaParam = param + ".json_schema"
            guard let format = fields.value("json_schema") else {
                throw APIError.invalidRequest(
                    "'\(schemaParam)' is required when the type is 'json_schema'.", param: schemaParam,
                    code: "missing_required_parameter")
            }
            guard case .object = format else { throw fields.typeError("json_schema", "an object", got: format) }
            var inner = FieldReader(format, path: schemaParam + ".")
            guard let name = try inner.string("name") else {
                throw APIError.invalidRequest(
                    "'\(schemaParam).name' is required.", param: schemaParam + ".name", code: "missing_required_parameter")
            }
            try ToolDefinition.checkName(name, param: schemaParam + ".name")
            _ = try inner.string("description")
            let strict = try inner.bool("strict") ?? false
            let schema = inner.value("schema") ?? .object([])
            switch schema {
            case .object, .bool: break
            default: throw inner.typeError("schema", "an object", got: schema)
            }
            try inner.rejectUnread(unsupported: [])
            constraint = .jsonSchema(schema: schema.serialized, strict: strict)
        default:
            throw APIError.invalidRequest(
                "'\(param).type' must be one of text, json_object, json_schema; got '\(type)'.", param: param + ".type",
                code: "invalid_value")
        }
        try fields.rejectUnread(unsupported: [])
        if let constraint { try ConstraintValidation.check(constraint, param: param + ".json_schema.schema") }
        return constraint
    }
}
