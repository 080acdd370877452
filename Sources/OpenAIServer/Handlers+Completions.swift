import Hummingbird
import ServingTypes

/// POST /v1/completions.
extension Handlers {
    func completions(_ request: Request, context: OpenAIRequestContext) async throws -> Response {
        let startedAt = ContinuousClock.now
        let json = try await readJSON(request, startedAt: startedAt, onBodyTimeout: { context.closeConnection(1) })
        let body = try CompletionRequest(json: json, maxN: configuration.maxN, maxTokensLimit: configuration.maxTokensLimit)
        try checkModel(body.sampling.model)
        try checkReady()
        let requestID = RequestID(prefix: "cmpl")
        try checkSequenceCount(prompts: body.prompts.count, n: body.sampling.n)

        // Tokenize and check every prompt before starting any sequence.
        var prompts: [(tokens: [Int32], text: String)] = []
        for (index, prompt) in body.prompts.enumerated() {
            let param = body.prompts.count == 1 ? "prompt" : "prompt[\(index)]"
            let tokens: [Int32]
            switch prompt {
            case .text(let text):
                guard !text.isEmpty else {
                    throw APIError.invalidRequest("'\(param)' must not be empty.", param: param, code: "invalid_value")
                }
                tokens = engine.tokenize(text, addSpecial: true)
            case .tokens(let ids):
                guard !ids.isEmpty else {
                    throw APIError.invalidRequest("'\(param)' must not be empty.", param: param, code: "invalid_value")
                }
                tokens = ids
            }
            try checkContext(promptTokens: tokens.count, maxTokens: body.maxTokens, param: "max_tokens")
            var echoText = ""
            if body.echo {
                if case .text(let text) = prompt { echoText = text } else { echoText = engine.detokenize(tokens) }
            }
            prompts.append((tokens, echoText))
        }

        let n = body.sampling.n
        let baseSeed = body.sampling.seed ?? UInt64.random(in: .min ... .max)
        var requests: [GenerationRequest] = []
        var choices: [CompletionChoice] = []
        for (promptIndex, prompt) in prompts.enumerated() {
            for choice in 0..<n {
                let index = promptIndex * n + choice
                requests.append(
                    body.sampling.generationRequest(
                        prompt: prompt.tokens, maxTokens: body.maxTokens, baseSeed: baseSeed, choiceIndex: index,
                        logprobs: body.logprobs, echoPromptLogprobs: body.echo && body.logprobs != nil,
                        requestID: requestID, constraint: body.constraint))
                choices.append(CompletionChoice(index: index, echoText: body.echo ? prompt.text : nil, logprobs: body.logprobs != nil))
            }
        }
        let promptTokens = prompts.reduce(0) { $0 + $1.tokens.count }
        let runner = runner(startedAt: startedAt)
        let streams = try runner.start(requests)
        logger.debug(
            "completion started",
            metadata: ["request.id": "\(requestID)", "sequences": "\(requests.count)", "stream": "\(body.sampling.stream)"])

        let header = CompletionHeader(id: requestID, created: unixTime(), model: engine.modelName)
        return try await respond(
            choices: choices, streams: streams, runner: runner, context: context, header: header, promptTokens: promptTokens,
            stream: body.sampling.stream, includeUsage: body.sampling.includeUsage, requestID: requestID)
    }
}

struct CompletionHeader: Sendable {
    var id: RequestID
    var created: Int
    var model: String
    var object = "text_completion"

    /// `usage: null` is sent on every chunk when the client asked for a usage chunk (as OpenAI does).
    func object(choices: [JSONValue], includeUsage: Bool = false, extra: [(String, JSONValue)] = []) -> JSONValue {
        var pairs: [(String, JSONValue)] = [
            ("id", .string(id.description)), ("object", .string(object)), ("created", .number(created)),
            ("model", .string(model)), ("choices", .array(choices)),
        ]
        if includeUsage && extra.isEmpty { pairs.append(("usage", .null)) }
        return .object(pairs + extra)
    }
}

/// One choice of /v1/completions as its events arrive.
struct CompletionChoice: ResponseChoice {
    let index: Int
    /// The prompt text when `echo` is set.
    let echoText: String?
    let logprobs: Bool
    var text = ""
    var entries: [LogprobEntry] = []
    var finishReason: FinishReason?
    var completionTokens = 0
    var cachedTokens = 0
    // Streaming state: whether the echo chunk went out, tokens not yet sent, text_offset so far.
    var echoed = false
    var pending: [LogprobEntry] = []
    var offset = 0

    /// Non-streaming: accumulate.
    mutating func apply(_ event: GenerationEvent, engine: any InferenceEngine) {
        switch event {
        case .promptLogprobs(let tokens):
            if echoText != nil && logprobs { entries.insert(contentsOf: tokens.map { LogprobEntry($0, engine: engine) }, at: 0) }
        case .token(let id, let logprob, let top):
            if logprobs { entries.append(LogprobEntry(TokenLogprob(id: id, logprob: logprob ?? 0, top: top), engine: engine)) }
        case .text(let piece):
            text += piece
        case .finished(let reason, let usage):
            let completion = usage.completionTokens
            finishReason = reason
            completionTokens = completion
            cachedTokens = usage.cachedTokens
        }
    }

    func json() -> JSONValue {
        .object([
            ("text", .string((echoText ?? "") + text)),
            ("index", .number(index)),
            ("logprobs", logprobs ? .legacyLogprobs(entries, startOffset: 0) : .null),
            ("finish_reason", .optional(finishReason?.rawValue)),
        ])
    }

    /// Streaming: the chunk to send for `event`, if any. The echo leads the first chunk (alone,
    /// with the prompt's logprobs, when those were asked for); generated tokens' logprobs ride
    /// with the next text (or the finish chunk).
    mutating func streamChunks(for event: GenerationEvent, engine: any InferenceEngine) -> [JSONValue] {
        streamChunk(for: event, engine: engine).map { [$0] } ?? []
    }

    private mutating func streamChunk(for event: GenerationEvent, engine: any InferenceEngine) -> JSONValue? {
        switch event {
        case .promptLogprobs(let tokens):
            guard let echoText, !echoed else { return nil }
            echoed = true
            pending = logprobs ? tokens.map { LogprobEntry($0, engine: engine) } : []
            return chunk(text: echoText, finishReason: nil)
        case .token(let id, let logprob, let top):
            if logprobs { pending.append(LogprobEntry(TokenLogprob(id: id, logprob: logprob ?? 0, top: top), engine: engine)) }
            return nil
        case .text(let piece):
            return chunk(text: echoChunkText() + piece, finishReason: nil)
        case .finished(let reason, let usage):
            let completion = usage.completionTokens
            completionTokens = completion
            cachedTokens = usage.cachedTokens
            finishReason = reason
            return chunk(text: echoChunkText(), finishReason: reason)
        }
    }

    /// The echo text if it has not gone out yet (marks it sent); it leads the first chunk.
    private mutating func echoChunkText() -> String {
        guard let echoText, !echoed else { return "" }
        echoed = true
        return echoText
    }

    private mutating func chunk(text: String, finishReason: FinishReason?) -> JSONValue {
        var logprobsJSON = JSONValue.null
        if logprobs {
            logprobsJSON = .legacyLogprobs(pending, startOffset: offset)
            offset += pending.reduce(0) { $0 + $1.length }
            pending = []
        }
        return .object([
            ("text", .string(text)), ("index", .number(index)), ("logprobs", logprobsJSON),
            ("finish_reason", .optional(finishReason?.rawValue)),
        ])
    }
}
