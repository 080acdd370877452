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

        let choices = (0..<n).map { ChatChoice(index: $0, logprobs: body.logprobs) }
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
struct ChatChoice: ResponseChoice {
    let index: Int
    let logprobs: Bool
    var text = ""
    var entries: [LogprobEntry] = []
    var pending: [LogprobEntry] = []
    var finishReason: FinishReason?
    var completionTokens = 0
    var cachedTokens = 0

    /// Non-streaming: accumulate.
    mutating func apply(_ event: GenerationEvent, engine: any InferenceEngine) {
        switch event {
        case .token(let id, let logprob, let top):
            if logprobs { entries.append(LogprobEntry(TokenLogprob(id: id, logprob: logprob ?? 0, top: top), engine: engine)) }
        case .text(let piece):
            text += piece
        case .finished(let reason, let usage):
            let completion = usage.completionTokens
            finishReason = reason
            completionTokens = completion
            cachedTokens = usage.cachedTokens
        case .promptLogprobs:
            break
        }
    }

    func json() -> JSONValue {
        .object([
            ("index", .number(index)),
            ("message", .object([("role", .string("assistant")), ("content", .string(text))])),
            ("logprobs", logprobs ? .chatLogprobs(entries) : .null),
            ("finish_reason", .optional(finishReason?.rawValue)),
        ])
    }

    func roleChunk() -> JSONValue {
        .object([
            ("index", .number(index)),
            ("delta", .object([("role", .string("assistant")), ("content", .string(""))])),
            ("logprobs", .null), ("finish_reason", .null),
        ])
    }

    /// Streaming: a content delta per text event (with the logprobs of the tokens behind it),
    /// and an empty delta with `finish_reason` at the end.
    mutating func streamChunk(for event: GenerationEvent, engine: any InferenceEngine) -> JSONValue? {
        switch event {
        case .token(let id, let logprob, let top):
            if logprobs { pending.append(LogprobEntry(TokenLogprob(id: id, logprob: logprob ?? 0, top: top), engine: engine)) }
            return nil
        case .text(let piece):
            return chunk(delta: .object([("content", .string(piece))]), finishReason: nil)
        case .finished(let reason, let usage):
            let completion = usage.completionTokens
            completionTokens = completion
            cachedTokens = usage.cachedTokens
            finishReason = reason
            return chunk(delta: .object([]), finishReason: reason)
        case .promptLogprobs:
            return nil
        }
    }

    private mutating func chunk(delta: JSONValue, finishReason: FinishReason?) -> JSONValue {
        var logprobsJSON = JSONValue.null
        if logprobs && !pending.isEmpty {
            logprobsJSON = .chatLogprobs(pending)
            pending = []
        }
        return .object([
            ("index", .number(index)), ("delta", delta), ("logprobs", logprobsJSON),
            ("finish_reason", .optional(finishReason?.rawValue)),
        ])
    }
}
