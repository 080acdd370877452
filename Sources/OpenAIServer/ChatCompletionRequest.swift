import ServingTypes

/// A validated POST /v1/chat/completions body.
struct ChatCompletionRequest: Sendable {
    var messages: [ChatMessage]
    /// nil: whatever fits in the context (capped by `maxTokensLimit`).
    var maxTokens: Int?
    var sampling: SamplingOptions
    var logprobs = false
    var topLogprobs = 0
    /// `tools`, `tool_choice`, `parallel_tool_calls`.
    var tools: ToolRequest
    /// `response_format` as a constraint (nil: text).
    var responseFormat: OutputConstraint?

    /// What the output must look like: a forced tool call's arguments, else the response format.
    var constraint: OutputConstraint? { tools.constraint ?? responseFormat }

    /// Fields OpenAI defines that this server does not implement (rejected unless null).
    static let unsupported: Set<String> = [
        "functions", "function_call", "logit_bias", "audio", "modalities", "prediction", "reasoning_effort", "web_search_options",
        "store", "metadata", "service_tier",
    ]

    init(json: JSONValue, maxN: Int, maxTokensLimit: Int) throws(APIError) {
        var fields = FieldReader(json)
        sampling = try SamplingOptions(reading: &fields, maxN: maxN)
        guard let value = fields.value("messages") else {
            throw APIError.invalidRequest("'messages' is required.", param: "messages", code: "missing_required_parameter")
        }
        guard case .array(let items) = value else { throw fields.typeError("messages", "an array", got: value) }
        guard !items.isEmpty else {
            throw APIError.invalidRequest("'messages' must not be empty.", param: "messages", code: "invalid_value")
        }
        messages = []
        for (index, item) in items.enumerated() {
            messages.append(try Self.parseMessage(item, index: index))
        }
        let range = 1...max(1, maxTokensLimit)
        let requirement = "between 1 and \(maxTokensLimit)"
        let legacy = try fields.int("max_tokens", in: range, requirement)
        maxTokens = try fields.int("max_completion_tokens", in: range, requirement) ?? legacy
        logprobs = try fields.bool("logprobs") ?? false
        if let top = try fields.int("top_logprobs", in: 0...5, "between 0 and 5") {
            guard logprobs else {
                throw APIError.invalidRequest("'top_logprobs' requires 'logprobs' to be true.", param: "top_logprobs")
            }
            topLogprobs = top
        }
        responseFormat = try fields.value("response_format").flatMap { value throws(APIError) in try ResponseFormat.parse(value) }
        tools = try ToolRequest(reading: &fields)
        _ = fields.value("store")  // nothing is stored either way
        try fields.rejectUnread(unsupported: Self.unsupported)
    }

    /// `{"role", "content"}` with content a string or a list of `{"type": "text", "text"}` parts;
    /// an assistant message may instead (or also) carry `tool_calls`, and a `tool` message answers
    /// one (`tool_call_id`). Tool calls reach the chat template as calls (it writes them in its
    /// family's syntax), tool results as role "tool".
    private static func parseMessage(_ value: JSONValue, index: Int) throws(APIError) -> ChatMessage {
        let path = "messages[\(index)]"
        guard case .object = value else {
            throw APIError.invalidRequest("'\(path)' must be an object, got \(value.typeName).", param: path, code: "invalid_type")
        }
        var fields = FieldReader(value, path: path + ".")
        guard var role = try fields.string("role") else {
            throw APIError.invalidRequest("'\(path).role' is required.", param: path + ".role", code: "missing_required_parameter")
        }
        switch role {
        case "system", "user", "assistant", "tool": break
        case "developer": role = "system"
        default:
            throw APIError.invalidRequest(
                "'\(path).role' must be one of system, user, assistant, tool; got '\(role)'.", param: path + ".role",
                code: "invalid_value")
        }
        _ = try fields.string("name")  // accepted, not passed to the template
        var calls: [ChatToolCall] = []
        if role == "assistant", let value = fields.value("tool_calls"), !value.isNull {
            calls = try parseToolCalls(value, path: path + ".tool_calls")
        }
        if role == "tool" {
            guard try fields.string("tool_call_id") != nil else {
                throw APIError.invalidRequest(
                    "'\(path).tool_call_id' is required in a tool message.", param: path + ".tool_call_id",
                    code: "missing_required_parameter")
            }
        }
        let content: JSONValue
        switch fields.value("content") {
        case .some(let value) where !value.isNull:
            content = value
        default:
            guard !calls.isEmpty else {
                throw APIError.invalidRequest("'\(path).content' is required.", param: path + ".content", code: "missing_required_parameter")
            }
            content = .string("")
        }
        let text: String
        switch content {
        case .string(let string):
            text = string
        case .array(let parts):
            var pieces: [String] = []
            for (partIndex, part) in parts.enumerated() {
                let partPath = "\(path).content[\(partIndex)]"
                var partFields = FieldReader(part, path: partPath + ".")
                guard case .object = part, let type = try partFields.string("type") else {
                    throw APIError.invalidRequest(
                        "'\(partPath)' must be an object with a 'type'.", param: partPath, code: "invalid_type")
                }
                guard type == "text" else {
                    throw APIError.invalidRequest(
                        "Content parts of type '\(type)' are not supported; only 'text' is.", param: partPath + ".type",
                        code: "unsupported_content_type")
                }
                guard let partText = try partFields.string("text") else {
                    throw APIError.invalidRequest("'\(partPath).text' is required.", param: partPath + ".text")
                }
                try partFields.rejectUnread(unsupported: [])
                pieces.append(partText)
            }
            text = pieces.joined(separator: "\n")  // as vLLM joins text parts
        default:
            throw fields.typeError("content", "a string or an array of content parts", got: content)
        }
        try fields.rejectUnread(unsupported: ["function_call", "refusal", "audio"])
        return ChatMessage(role: role, content: text, toolCalls: calls)
    }

    /// An assistant message's `tool_calls`, each call's `arguments` string parsed back into JSON
    /// and written compactly (kept as a JSON string when it is not JSON).
    private static func parseToolCalls(_ value: JSONValue, path: String) throws(APIError) -> [ChatToolCall] {
        guard case .array(let items) = value, !items.isEmpty else {
            throw APIError.invalidRequest("'\(path)' must be a non-empty array of tool calls.", param: path, code: "invalid_type")
        }
        var calls: [ChatToolCall] = []
        for (i, item) in items.enumerated() {
            let callPath = "\(path)[\(i)]"
            guard case .object = item else {
                throw APIError.invalidRequest("'\(callPath)' must be an object.", param: callPath, code: "invalid_type")
            }
            var call = FieldReader(item, path: callPath + ".")
            _ = try call.string("id")
            if let type = try call.string("type"), type != "function" {
                throw APIError.invalidRequest("'\(callPath).type' must be 'function'.", param: callPath + ".type", code: "invalid_value")
            }
            guard let function = call.value("function"), case .object = function else {
                throw APIError.invalidRequest(
                    "'\(callPath).function' must be an object with 'name' and 'arguments'.", param: callPath + ".function",
                    code: "missing_required_parameter")
            }
            try call.rejectUnread(unsupported: [])
            var inner = FieldReader(function, path: callPath + ".function.")
            guard let name = try inner.string("name") else {
                throw APIError.invalidRequest(
                    "'\(callPath).function.name' is required.", param: callPath + ".function.name", code: "missing_required_parameter")
            }
            let arguments = try inner.string("arguments") ?? "{}"
            try inner.rejectUnread(unsupported: [])
            let parsed = JSONValue.parse(Array(arguments.utf8)) ?? .string(arguments)
            calls.append(ChatToolCall(name: name, arguments: parsed.serialized))
        }
        return calls
    }
}
