import Hummingbird
import ServingTypes

/// POST /v1/chat/completions.
extension Handlers {
    func chatCompletions(_ request: Request, context: OpenAIRequestContext) async throws -> Response {
        let startedAt = ContinuousClock.now
        let json = try await readJSON(request, startedAt: startedAt, onBodyTimeout: { context.closeConnection(1) })
        let body = try ChatCompletionRequest(json: json, maxN: configuration.maxN, maxTokensLimit: configuration.maxTokensLimit)
        try checkModel(body.sampling.model)
        try checkReady()
        let requestID = RequestID(prefix: "chatcmpl")

        try checkSequenceCount(prompts: 1, n: body.sampling.n)
        let prompt = try engine.tokenizeChat(body.messages)
        guard !prompt.isEmpty else {
            throw APIError.invalidRequest("The rendered chat prompt is empty.", param: "messages", code: "invalid_value")
        }
        let maxTokens: Int
        if let requested = body.maxTokens {
            maxTokens = requested
        } else {
            // OpenAI's default: as much as the context allows (capped by the server's limit).
            maxTokens = min(configuration.maxTokensLimit, engine.contextLength - prompt.count)
            guard maxTokens >= 1 else {
                throw APIError.contextLengthExceeded(
                    prompt: prompt.count, completion: 1, limit: engine.contextLength, param: "messages")
            }
        }
        try checkContext(promptTokens: prompt.count, maxTokens: maxTokens, param: "max_tokens")

        let n = body.sampling.n
        let baseSeed = body.sampling.seed ?? UInt64.random(in: .min ... .max)
        let logprobs = body.logprobs ? body.topLogprobs : nil
        let requests = (0..<n).map { index in
            body.sampling.generationRequest(
                prompt: prompt, maxTokens: maxTokens, baseSeed: baseSeed, choiceIndex: index, logprobs: logprobs,
                echoPromptLogprobs: false, requestID: requestID, constraint: body.constraint)
        }
        let runner = runner(startedAt: startedAt)
        let streams = try runner.start(requests)
        logger.debug(
            "chat completion started",
            metadata: ["request.id": "\(requestID)", "sequences": "\(n)", "stream": "\(body.sampling.stream)"])

        let toolMode: ToolCallExtractor.Mode?
        switch body.tools.choice {
        case .function(let name): toolMode = .named(name)
        case .required: toolMode = .array
        case .auto, .none: toolMode = nil
        }
        let choices = (0..<n).map { ChatChoice(index: $0, logprobs: body.logprobs, toolMode: toolMode) }
        let header = CompletionHeader(
            id: requestID, created: unixTime(), model: engine.modelName,
            object: body.sampling.stream ? "chat.completion.chunk" : "chat.completion")
        // The first chunk of every choice carries the role.
        return try await respond(
            choices: choices, streams: streams, runner: runner, context: context, header: header, promptTokens: prompt.count,
            stream: body.sampling.stream, includeUsage: body.sampling.includeUsage,
            leadingChunks: choices.map { $0.roleChunk() }, requestID: requestID)
    }
}

/// One choice of /v1/chat/completions as its events arrive.
///
/// With a forced tool call (`tool_choice` required or a named function) the output is the call's
/// JSON, which goes out as OpenAI `tool_calls` rather than content: each call with an id
/// (`call_…`), `type: "function"`, the function's name and its arguments as a JSON string;
/// streamed, a call's first delta carries id, type, name and empty arguments, later deltas pieces
/// of the arguments; the finish reason of a complete output is `tool_calls`.
struct ChatChoice: ResponseChoice {
    let index: Int
    let logprobs: Bool
    var text = ""
    var entries: [LogprobEntry] = []
    var pending: [LogprobEntry] = []
    var finishReason: FinishReason?
    var completionTokens = 0
    var cachedTokens = 0
    /// Set for a forced tool call.
    var toolCalls: ToolCallExtractor?
    var callIDs: [String] = []

    init(index: Int, logprobs: Bool, toolMode: ToolCallExtractor.Mode? = nil) {
        self.index = index
        self.logprobs = logprobs
        toolCalls = toolMode.map { ToolCallExtractor(mode: $0) }
    }

    /// OpenAI's `finish_reason`: a tool call that ended as it should is `tool_calls`.
    var finishReasonText: String? {
        guard let finishReason else { return nil }
        return toolCalls != nil && finishReason == .stop ? "tool_calls" : finishReason.rawValue
    }

    /// Non-streaming: accumulate.
    mutating func apply(_ event: GenerationEvent, engine: any InferenceEngine) {
        switch event {
        case .token(let id, let logprob, let top):
            if logprobs { entries.append(LogprobEntry(TokenLogprob(id: id, logprob: logprob ?? 0, top: top), engine: engine)) }
        case .text(let piece):
            text += piece
            if toolCalls != nil { _ = callEvents(piece) }
        case .finished(let reason, let usage):
            let completion = usage.completionTokens
            finishReason = reason
            completionTokens = completion
            cachedTokens = usage.cachedTokens
        case .promptLogprobs:
            break
        }
    }

    /// The extractor's events for `piece`, naming each new call.
    private mutating func callEvents(_ piece: String) -> [ToolCallExtractor.Event] {
        let events = toolCalls?.append(piece) ?? []
        for event in events { if case .begin = event { callIDs.append(Self.newCallID()) } }
        return events
    }

    static func newCallID() -> String {
        "call_" + (0..<3).map { _ in
            let hex = String(UInt64.random(in: .min ... .max), radix: 16)
            return String(repeating: "0", count: 16 - hex.count) + hex
        }.joined().prefix(24)
    }

    func json() -> JSONValue {
        var message: [(String, JSONValue)] = [("role", .string("assistant"))]
        if let toolCalls {
            message.append(("content", .null))
            if !toolCalls.calls.isEmpty {
                message.append(("tool_calls", .array(toolCalls.calls.enumerated().map { i, call in
                    .object([
                        ("id", .string(callIDs[i])), ("type", .string("function")),
                        ("function", .object([("name", .string(call.name)), ("arguments", .string(call.arguments))])),
                    ])
                })))
            }
        } else {
            message.append(("content", .string(text)))
        }
        return .object([
            ("index", .number(index)),
            ("message", .object(message)),
            ("logprobs", logprobs ? .chatLogprobs(entries) : .null),
            ("finish_reason", .optional(finishReasonText)),
        ])
    }

    func roleChunk() -> JSONValue {
        .object([
            ("index", .number(index)),
            ("delta", .object([("role", .string("assistant")), ("content", toolCalls == nil ? .string("") : .null)])),
            ("logprobs", .null), ("finish_reason", .null),
        ])
    }

    /// Streaming: a content delta per text event (with the logprobs of the tokens behind it),
    /// and an empty delta with `finish_reason` at the end. A forced tool call streams
    /// `tool_calls` deltas instead of content, one chunk per call start (id, type, name, empty
    /// arguments) and per piece of arguments, as OpenAI sends them.
    mutating func streamChunks(for event: GenerationEvent, engine: any InferenceEngine) -> [JSONValue] {
        switch event {
        case .token(let id, let logprob, let top):
            if logprobs { pending.append(LogprobEntry(TokenLogprob(id: id, logprob: logprob ?? 0, top: top), engine: engine)) }
            return []
        case .text(let piece):
            guard toolCalls != nil else { return [chunk(delta: .object([("content", .string(piece))]), finishReason: nil)] }
            return callEvents(piece).map { event -> JSONValue in
                let call: JSONValue
                switch event {
                case .begin(let index, let name):
                    call = .object([
                        ("index", .number(index)), ("id", .string(callIDs[index])), ("type", .string("function")),
                        ("function", .object([("name", .string(name)), ("arguments", .string(""))])),
                    ])
                case .arguments(let index, let piece):
                    call = .object([("index", .number(index)), ("function", .object([("arguments", .string(piece))]))])
                }
                return chunk(delta: .object([("tool_calls", .array([call]))]), finishReason: nil)
            }
        case .finished(let reason, let usage):
            let completion = usage.completionTokens
            completionTokens = completion
            cachedTokens = usage.cachedTokens
            finishReason = reason
            return [chunk(delta: .object([]), finishReason: finishReasonText)]
        case .promptLogprobs:
            return []
        }
    }

    private mutating func chunk(delta: JSONValue, finishReason: String?) -> JSONValue {
        var logprobsJSON = JSONValue.null
        if logprobs && !pending.isEmpty {
            logprobsJSON = .chatLogprobs(pending)
            pending = []
        }
        return .object([
            ("index", .number(index)), ("delta", delta), ("logprobs", logprobsJSON),
            ("finish_reason", .optional(finishReason)),
        ])
    }
}
