/// Starts a request's sequences on the engine and drives their event streams: merges them in
/// arrival order, records latency and token metrics, enforces the request timeout, and cancels
/// every sequence (by ending its stream) when the consumer fails, e.g. because the client left.
struct SequenceRunner: Sendable {
    let engine: any InferenceEngine
    let metrics: OpenAIServerMetrics
    let timeoutSeconds: Double?
    /// When the HTTP request arrived; latencies count from here.
    let startedAt: ContinuousClock.Instant

    /// Starts all sequences, or none: if one fails to start, those already started are cancelled.
    func start(_ requests: [GenerationRequest]) throws -> [AsyncThrowingStream<GenerationEvent, any Error>] {
        var streams: [AsyncThrowingStream<GenerationEvent, any Error>] = []
        do {
            for request in requests {
                streams.append(try engine.generate(request))
            }
        } catch {
            Self.cancel(streams)
            throw error
        }
        return streams
    }

    /// Ends streams that will never be consumed: iterating in a cancelled task terminates an
    /// `AsyncThrowingStream`, which runs the engine's `onTermination`.
    static func cancel(_ streams: [AsyncThrowingStream<GenerationEvent, any Error>]) {
        for stream in streams {
            let task = Task {
                var iterator = stream.makeAsyncIterator()
                _ = try? await iterator.next()
            }
            task.cancel()
        }
    }

    private enum Item: Sendable {
        case event(Int, GenerationEvent)
        case ended(Int)
        case failed(any Error)
        case timedOut
        case clientGone
        case heartbeat
    }

    /// Feeds every event of every stream to `onEvent` (in the calling task), until all sequences
    /// have finished. Throws the first engine error, `APIError.timeout`, `ClientDisconnected`
    /// when the connection closes, or whatever `onEvent` throws; in every case the remaining
    /// sequences are cancelled before this returns. `onHeartbeat` runs every `heartbeatSeconds`
    /// (a stream writes an SSE comment, so a vanished client is noticed even between tokens).
    func run(
        _ streams: [AsyncThrowingStream<GenerationEvent, any Error>],
        context: OpenAIRequestContext,
        heartbeatSeconds: Double? = nil,
        onHeartbeat: () async throws -> Void = {},
        onEvent: (Int, GenerationEvent) async throws -> Void
    ) async throws {
        let (merged, continuation) = AsyncStream<Item>.makeStream()
        context.onConnectionClose { continuation.yield(.clientGone) }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (index, stream) in streams.enumerated() {
                group.addTask {
                    do {
                        for try await event in stream {
                            continuation.yield(.event(index, event))
                        }
                        continuation.yield(.ended(index))
                    } catch {
                        continuation.yield(.failed(error))
                    }
                }
            }
            if let timeoutSeconds, timeoutSeconds > 0 {
                group.addTask {
                    try await Task.sleep(for: .seconds(timeoutSeconds))
                    continuation.yield(.timedOut)
                }
            }
            if let heartbeatSeconds, heartbeatSeconds > 0 {
                group.addTask {
                    while true {
                        try await Task.sleep(for: .seconds(heartbeatSeconds))
                        continuation.yield(.heartbeat)
                    }
                }
            }
            var timings = [SequenceTiming](repeating: SequenceTiming(), count: streams.count)
            var open = streams.count
            for await item in merged {
                switch item {
                case .event(let index, let event):
                    timings[index].observe(event, startedAt: startedAt, metrics: metrics)
                    try await onEvent(index, event)
                case .ended(let index):
                    guard timings[index].finished else {
                        throw EngineError.failed("sequence \(index) ended without finishing")
                    }
                    open -= 1
                case .failed(let error):
                    throw error
                case .timedOut:
                    throw APIError.timeout(seconds: timeoutSeconds ?? 0)
                case .clientGone:
                    throw ClientDisconnected()
                case .heartbeat:
                    try await onHeartbeat()
                }
                if open == 0 { break }
            }
            group.cancelAll()
        }
    }
}

/// Per-sequence latency bookkeeping for the TTFT / inter-token / end-to-end histograms.
private struct SequenceTiming {
    var lastToken: ContinuousClock.Instant?
    var finished = false

    mutating func observe(_ event: GenerationEvent, startedAt: ContinuousClock.Instant, metrics: OpenAIServerMetrics) {
        let now = ContinuousClock.now
        switch event {
        case .token:
            if let lastToken {
                metrics.interTokenLatency.record((now - lastToken).seconds)
            } else {
                metrics.timeToFirstToken.record((now - startedAt).seconds)
            }
            lastToken = now
        case .finished(let reason, let usage):
            finished = true
            metrics.recordFinished(
                reason: reason, promptTokens: usage.promptTokens, completionTokens: usage.completionTokens,
                seconds: (now - startedAt).seconds)
        case .text, .promptLogprobs:
            break
        }
    }
}

extension Duration {
    var seconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) * 1e-18
    }
}
