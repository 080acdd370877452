import ServingTypes

/// `tools`, `tool_choice` and `parallel_tool_calls` of a chat request, validated, with the
/// constraint a forced call puts on the output and the tools the prompt describes.
///
/// The output of a forced call follows vLLM's shapes, which chat templates and clients of it
/// already handle: a named function produces its arguments object; `required` produces a JSON
/// array of `{"name": ..., "parameters": {...}}` calls (one at most when parallel calls are off).
struct ToolRequest: Sendable {
    var tools: [ToolDefinition] = []
    var choice: ToolChoice = .none
    var parallelCalls = true
    /// The output constraint of a forced call; nil when the model may answer in text.
    var constraint: OutputConstraint?

    /// The tools the prompt describes: every declared one, unless `tool_choice` is "none" — then
    /// the model is not told about them (as vLLM with `--exclude-tools-when-tool-choice-none`):
    /// shown tools, a model may write call syntax that nobody would parse.
    var promptTools: [ChatTool] { choice == .none ? [] : tools.map(\.chatTool) }

    /// Declared function names (what a parsed call may name).
    var functionNames: Set<String> { Set(tools.map(\.name)) }

    init(reading fields: inout FieldReader) throws(APIError) {
        if let value = fields.value("tools") {
            guard case .array(let items) = value else { throw fields.typeError("tools", "an array", got: value) }
            var names = Set<String>()
            for (index, item) in items.enumerated() {
                let tool = try ToolDefinition(json: item, index: index)
                guard names.insert(tool.name).inserted else {
                    throw APIError.invalidRequest(
                        "'tools[\(index)].function.name': the function '\(tool.name)' is defined twice.",
                        param: "tools[\(index)].function.name", code: "invalid_value")
                }
                tools.append(tool)
            }
        }
        parallelCalls = try fields.bool("parallel_tool_calls") ?? true
        choice = tools.isEmpty ? .none : .auto
        if let value = fields.value("tool_choice") {
            choice = try Self.parseChoice(value, fields: fields)
            switch choice {
            case .required, .function, .auto:
                guard !tools.isEmpty else {
                    throw APIError.invalidRequest(
                        "'tool_choice' is only allowed when 'tools' are specified.", param: "tool_choice", code: "invalid_value")
                }
            case .none:
                break
            }
            if case .function(let name) = choice, !tools.contains(where: { $0.name == name }) {
                throw APIError.invalidRequest(
                    "'tool_choice.function.name': no tool named '\(name)' in 'tools'.", param: "tool_choice.function.name",
                    code: "invalid_value")
            }
        }
        constraint = try forcedCallConstraint()
    }

    private static func parseChoice(_ value: JSONValue, fields: FieldReader) throws(APIError) -> ToolChoice {
        switch value {
        case .string("none"): return .none
        case .string("auto"): return .auto
        case .string("required"): return .required
        case .string(let other):
            throw APIError.invalidRequest(
                "'tool_choice' must be none, auto, required or a function; got '\(other)'.", param: "tool_choice",
                code: "invalid_value")
        case .object:
            var choice = FieldReader(value, path: "tool_choice.")
            guard try choice.string("type") == "function" else {
                throw APIError.invalidRequest("'tool_choice.type' must be 'function'.", param: "tool_choice.type", code: "invalid_value")
            }
            guard let function = choice.value("function"), case .object = function else {
                throw APIError.invalidRequest(
                    "'tool_choice.function' must be an object with a 'name'.", param: "tool_choice.function",
                    code: "missing_required_parameter")
            }
            try choice.rejectUnread(unsupported: [])
            var inner = FieldReader(function, path: "tool_choice.function.")
            guard let name = try inner.string("name") else {
                throw APIError.invalidRequest(
                    "'tool_choice.function.name' is required.", param: "tool_choice.function.name", code: "missing_required_parameter")
            }
            try inner.rejectUnread(unsupported: [])
            return .function(name)
        default:
            throw fields.typeError("tool_choice", "a string or an object", got: value)
        }
    }

    /// The schema a forced call must follow (each tool's own schema was checked already, so
    /// only the combination's size can fail here).
    private func forcedCallConstraint() throws(APIError) -> OutputConstraint? {
        switch choice {
        case .none, .auto:
            return nil
        case .function(let name):
            guard let tool = tools.first(where: { $0.name == name }) else { return nil }
            return .jsonSchema(schema: tool.parameters.serialized, strict: tool.strict)
        case .required:
            var alternatives: [JSONValue] = []
            for (index, tool) in tools.enumerated() {
                let parameters = Self.rebaseReferences(tool.parameters, onto: "#/items/anyOf/\(index)/properties/parameters")
                alternatives.append(.object([
                    ("type", .string("object")),
                    ("properties", .object([
                        ("name", .object([("type", .string("string")), ("enum", .array([.string(tool.name)]))])),
                        ("parameters", parameters),
                    ])),
                    ("required", .array([.string("name"), .string("parameters")])),
                    ("additionalProperties", .bool(false)),
                ]))
            }
            var schema: [(String, JSONValue)] = [
                ("type", .string("array")), ("items", .object([("anyOf", .array(alternatives))])), ("minItems", .number(1)),
            ]
            if !parallelCalls { schema.append(("maxItems", .number(1))) }
            let constraint = OutputConstraint.jsonSchema(schema: JSONValue.object(schema).serialized, strict: tools.allSatisfy(\.strict))
            try ConstraintValidation.check(constraint, param: "tools")
            return constraint
        }
    }

    /// A tool's schema moved inside the combined one: its local references ("#/$defs/x")
    /// must point into its new place.
    static func rebaseReferences(_ schema: JSONValue, onto base: String) -> JSONValue {
        switch schema {
        case .object(let members):
            return .object(members.map { key, value in
                if key == "$ref", case .string(let pointer) = value, pointer.hasPrefix("#") {
                    return (key, .string(base + pointer.dropFirst()))
                }
                return (key, rebaseReferences(value, onto: base))
            })
        case .array(let items):
            return .array(items.map { rebaseReferences($0, onto: base) })
        default:
            return schema
        }
    }
}
