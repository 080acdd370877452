import ServingTypes

/// A validated POST /v1/completions body.
struct CompletionRequest: Sendable {
    /// One prompt as the client gave it.
    enum Prompt: Sendable {
        case text(String)
        case tokens([Int32])
    }

    var prompts: [Prompt]
    /// OpenAI's default is 16.
    var maxTokens = 16
    var sampling: SamplingOptions
    /// nil: none; 0...5 alternatives per token (legacy shape).
    var logprobs: Int?
    var echo = false
    /// `grammar` (llama.cpp's GBNF) or `response_format` (as in chat): what the output must
    /// look like; nil: free text.
    var constraint: OutputConstraint?

    /// Fields OpenAI defines that this server does not implement (rejected unless null).
    static let unsupported: Set<String> = ["logit_bias", "suffix", "best_of"]

    init(json: JSONValue, maxN: Int, maxTokensLimit: Int) throws(APIError) {
        var fields = FieldReader(json)
        sampling = try SamplingOptions(reading: &fields, maxN: maxN)
        guard let prompt = fields.value("prompt") else {
            throw APIError.invalidRequest("'prompt' is required.", param: "prompt", code: "missing_required_parameter")
        }
        prompts = try Self.parsePrompts(prompt, fields: fields)
        if let value = try fields.int("max_tokens", in: 1...max(1, maxTokensLimit), "between 1 and \(maxTokensLimit)") {
            maxTokens = value
        }
        logprobs = try fields.int("logprobs", in: 0...5, "between 0 and 5")
        echo = try fields.bool("echo") ?? false
        constraint = try fields.value("response_format").flatMap { value throws(APIError) in try ResponseFormat.parse(value) }
        if let grammar = try fields.string("grammar"), !grammar.isEmpty {
            guard constraint == nil else {
                throw APIError.invalidRequest(
                    "Give either 'grammar' or a JSON 'response_format', not both.", param: "grammar", code: "invalid_value")
            }
            constraint = .grammar(grammar)
            try ConstraintValidation.check(.grammar(grammar), param: "grammar")
        }
        // Defaults of unsupported fields are harmless: accept them, reject anything else.
        if let bestOf = try fields.int("best_of"), bestOf > 1 {
            throw APIError.unsupported("best_of", "only 1 is accepted; use 'n' for several choices")
        }
        if let suffix = try fields.string("suffix"), !suffix.isEmpty {
            throw APIError.unsupported("suffix")
        }
        if let bias = fields.value("logit_bias") {
            guard case .object(let pairs) = bias, pairs.isEmpty else { throw APIError.unsupported("logit_bias") }
        }
        try fields.rejectUnread(unsupported: Self.unsupported)
    }

    /// `prompt`: a string, an array of strings, an array of token ids, or an array of such arrays.
    private static func parsePrompts(_ value: JSONValue, fields: FieldReader) throws(APIError) -> [Prompt] {
        let expected = "a string, an array of strings, an array of token ids or an array of token-id arrays"
        switch value {
        case .string(let text):
            return [.text(text)]
        case .array(let items):
            guard let first = items.first else {
                throw APIError.invalidRequest("'prompt' must not be empty.", param: "prompt", code: "invalid_value")
            }
            switch first {
            case .string:
                var prompts: [Prompt] = []
                for item in items {
                    guard case .string(let text) = item else { throw fields.typeError("prompt", expected, got: value) }
                    prompts.append(.text(text))
                }
                return prompts
            case .array:
                var prompts: [Prompt] = []
                for (index, item) in items.enumerated() {
                    guard case .array(let ids) = item else { throw fields.typeError("prompt", expected, got: value) }
                    prompts.append(.tokens(try tokenIDs(ids, param: "prompt[\(index)]")))
                }
                return prompts
            case .int, .double:
                return [.tokens(try tokenIDs(items, param: "prompt"))]
            default:
                throw fields.typeError("prompt", expected, got: value)
            }
        default:
            throw fields.typeError("prompt", expected, got: value)
        }
    }

    private static func tokenIDs(_ items: [JSONValue], param: String) throws(APIError) -> [Int32] {
        var ids: [Int32] = []
        ids.reserveCapacity(items.count)
        for item in items {
            guard let id = FieldReader.integer(item), id >= 0, id <= Int64(Int32.max) else {
                throw APIError.invalidRequest(
                    "'\(param)' must contain only non-negative integer token ids.", param: param, code: "invalid_value")
            }
            ids.append(Int32(id))
        }
        return ids
    }
}
