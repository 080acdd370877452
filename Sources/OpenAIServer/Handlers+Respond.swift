import Hummingbird
import ServingTypes

/// One choice of a completion or chat completion, built from its sequence's events.
protocol ResponseChoice: Sendable {
    var completionTokens: Int { get }
    /// Prompt tokens its sequence took from the prefix cache.
    var cachedTokens: Int { get }
    /// Folds an event into the whole (non-streaming) answer.
    mutating func apply(_ event: GenerationEvent, engine: any InferenceEngine)
    /// The choice's part of the non-streaming answer.
    func json() -> JSONValue
    /// The SSE chunks an event makes (often one, none for some).
    mutating func streamChunks(for event: GenerationEvent, engine: any InferenceEngine) -> [JSONValue]
}

extension Handlers {
    /// Runs the started sequences and answers: one JSON object with usage, or Server-Sent Events —
    /// `leadingChunks` first (chat's role chunks), a chunk per event, the usage chunk when asked
    /// for, and `[DONE]`. An engine error after the stream began ends it with an error event; a
    /// client that goes away cancels every sequence.
    func respond<Choice: ResponseChoice>(
        choices: [Choice], streams: [AsyncThrowingStream<GenerationEvent, any Error>], runner: SequenceRunner,
        context: OpenAIRequestContext, header: CompletionHeader, promptTokens: Int, stream: Bool, includeUsage: Bool,
        leadingChunks: [JSONValue] = [], requestID: RequestID
    ) async throws -> Response {
        var choices = choices
        guard stream else {
            try await runner.run(streams, context: context) { index, event in
                choices[index].apply(event, engine: engine)
            }
            let completion = choices.reduce(0) { $0 + $1.completionTokens }
            return jsonResponse(
                header.object(
                    choices: choices.map { $0.json() },
                    extra: [("usage", .usage(prompt: promptTokens, completion: completion, cached: Self.cached(choices, promptTokens)))]),
                requestID: requestID)
        }
        return sseResponse(requestID: requestID) { [choices] writer in
            var choices = choices
            do {
                for chunk in leadingChunks {
                    try await send(&writer, header.object(choices: [chunk], includeUsage: includeUsage))
                }
            } catch {
                SequenceRunner.cancel(streams)
                logger.debug("client disconnected", metadata: ["request.id": "\(requestID)"])
                throw error
            }
            do {
                try await runner.run(
                    streams, context: context, heartbeatSeconds: configuration.streamKeepAliveSeconds,
                    onHeartbeat: { try await sendKeepAlive(&writer) }
                ) { index, event in
                    for chunk in choices[index].streamChunks(for: event, engine: engine) {
                        try await send(&writer, header.object(choices: [chunk], includeUsage: includeUsage))
                    }
                }
            } catch let error as ClientDisconnected {
                logger.debug("client disconnected", metadata: ["request.id": "\(requestID)"])
                throw error
            } catch {
                try await endStream(&writer, error: error, requestID: requestID)
                return
            }
            if includeUsage {
                let completion = choices.reduce(0) { $0 + $1.completionTokens }
                try await send(&writer, header.object(
                    choices: [], extra: [("usage", .usage(prompt: promptTokens, completion: completion,
                                                          cached: Self.cached(choices, promptTokens)))]))
            }
            try await writer.write(SSE.done)
            try await writer.finish(nil)
        }
    }

    /// `usage.prompt_tokens_details.cached_tokens`: the prompt tokens not computed for this request
    /// (the most any of its choices took from the prefix cache; never above the prompt tokens).
    static func cached<Choice: ResponseChoice>(_ choices: [Choice], _ promptTokens: Int) -> Int {
        min(promptTokens, choices.map(\.cachedTokens).max() ?? 0)
    }
}
