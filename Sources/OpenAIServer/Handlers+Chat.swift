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
        let prompt = try engine.tokenizeChat(body.messages, tools: body.tools.promptTools)
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

        let toolMode: ChatChoice.ToolMode
        switch body.tools.choice {
        case .function(let name): toolMode = .forced(.named(name))
        case .required: toolMode = .forced(.array)
        case .auto:
            toolMode = .parsed(ToolCallParser(format: engine.toolCallFormat, functions: body.tools.functionNames,
                                              maxCalls: body.tools.parallelCalls ? .max : 1))
        case .none: toolMode = .plain
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
