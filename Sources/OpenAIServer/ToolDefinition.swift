/// One entry of `tools`: `{"type": "function", "function": {"name", "description",
/// "parameters", "strict"}}`.
struct ToolDefinition: Sendable {
    var name: String
    var description: String?
    /// The parameters' JSON Schema (an empty object schema when omitted: no parameters).
    var parameters: JSONValue
    var strict: Bool

    init(json: JSONValue, index: Int) throws(APIError) {
        let param = "tools[\(index)]"
        guard case .object = json else {
            throw APIError.invalidRequest("'\(param)' must be an object, got \(json.typeName).", param: param, code: "invalid_type")
        }
        var fields = FieldReader(json, path: param + ".")
        let type = try fields.string("type")
        guard type == "function" else {
            throw APIError.invalidRequest(
                "'\(param).type' must be 'function'\(type.map { ", got '\($0)'" } ?? "").", param: param + ".type",
                code: type == nil ? "missing_required_parameter" : "invalid_value")
        }
        guard let function = fields.value("function") else {
            throw APIError.invalidRequest("'\(param).function' is required.", param: param + ".function", code: "missing_required_parameter")
        }
        guard case .object = function else { throw fields.typeError("function", "an object", got: function) }
        try fields.rejectUnread(unsupported: [])
        var inner = FieldReader(function, path: param + ".function.")
        guard let name = try inner.string("name") else {
            throw APIError.invalidRequest(
                "'\(param).function.name' is required.", param: param + ".function.name", code: "missing_required_parameter")
        }
        try Self.checkName(name, param: param + ".function.name")
        self.name = name
        description = try inner.string("description")
        strict = try inner.bool("strict") ?? false
        let parameters = inner.value("parameters") ?? .object([("type", .string("object")), ("properties", .object([]))])
        guard case .object = parameters else { throw inner.typeError("parameters", "an object", got: parameters) }
        self.parameters = parameters
        try inner.rejectUnread(unsupported: [])
        try ConstraintValidation.check(.jsonSchema(schema: parameters.serialized, strict: strict), param: param + ".function.parameters")
    }

    /// The declaration as the chat template describes it to the model: name, description and
    /// parameters schema (`strict` only matters to the server).
    var chatTool: ChatTool {
        var function: [(String, JSONValue)] = [("name", .string(name))]
        if let description { function.append(("description", .string(description))) }
        function.append(("parameters", parameters))
        return ChatTool(name: name, function: JSONValue.object(function).serialized)
    }

    /// OpenAI's rule for function and schema names: `^[a-zA-Z0-9_-]{1,64}$`.
    static func checkName(_ name: String, param: String) throws(APIError) {
        let valid = !name.isEmpty && name.utf8.count <= 64 && name.utf8.allSatisfy {
            ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x61 && $0 <= 0x7A) || $0 == 0x5F || $0 == 0x2D
        }
        guard valid else {
            throw APIError.invalidRequest(
                "'\(param)' must be 1 to 64 letters, digits, underscores or dashes; got '\(name.prefix(80))'.", param: param,
                code: "invalid_value")
        }
    }
}

/// `tool_choice`.
enum ToolChoice: Sendable, Equatable {
    /// Never call a tool.
    case none
    /// The model decides (the default when tools are given).
    case auto
    /// Call at least one tool.
    case required
    /// Call this function.
    case function(String)
}
