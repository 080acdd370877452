import Coordinator
import Foundation
import Metrics
import OpenAIServer
import Scheduling
import ServingTypes
import Tokenization
import WireProtocol

/// The running pipeline seen through the HTTP layer's `InferenceEngine` protocol: loading until the
/// ring is up, then requests go to the `PipelineEngine`, whose status (ready, recovering from a
/// stage crash, repartitioning, failed) /health reports.
public final class PipelineInferenceEngine: InferenceEngine, @unchecked Sendable {
    // Sendable: `state` is guarded by `lock`; the tokenizer is immutable.
    public let modelName: String
    public let contextLength: Int
    let tokenizer: Tokenizer
    let chatTemplate: ChatTemplate?
    let chatTemplateProblem: String?
    private let lock = NSLock()
    private var state: State = .loading("starting stages")
    private var exported = CounterExport()
    private let changesContinuation: AsyncStream<EngineHealth>.Continuation
    /// The health as it changes (loading, ready, recovering, failed): the systemd notifier's
    /// input. One consumer; the newest value wins when it falls behind.
    public let healthChanges: AsyncStream<EngineHealth>

    public enum State: Sendable {
        case loading(String)
        case ready(PipelineEngine)
        case stopping
    }

    public init(modelName: String, contextLength: Int, tokenizer: Tokenizer, chatTemplate: ChatTemplate?, chatTemplateProblem: String?) {
        self.modelName = modelName
        self.contextLength = contextLength
        self.tokenizer = tokenizer
        self.chatTemplate = chatTemplate
        self.chatTemplateProblem = chatTemplateProblem
        (healthChanges, changesContinuation) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(1))
        changesContinuation.yield(.loading("starting stages"))
    }

    public func setState(_ s: State) {
        lock.lock(); state = s; lock.unlock()
        if case let .ready(engine) = s {
            engine.onStatusChange { [weak self] _ in
                guard let self else { return }
                self.changesContinuation.yield(self.health)
            }
        }
        changesContinuation.yield(health)
    }

    /// Ends `healthChanges` (at shutdown).
    public func finishHealthChanges() { changesContinuation.finish() }

    private var current: State { lock.lock(); defer { lock.unlock() }; return state }

    public var health: EngineHealth {
        switch current {
        case let .loading(why): return .loading(why)
        case .stopping: return .failed("shutting down")
        case let .ready(engine):
            let snap = engine.snapshot
            switch engine.status {
            case .starting: return .loading("starting pipeline stages")
            case let .recovering(why): return .recovering(why)
            case let .failed(why): return .failed(why)
            case .ready:
                return .ready(stages: snap.stageLayers.enumerated().map {
                    StageHealth(index: $0.offset, layers: $0.element, restarts: snap.restarts)
                })
            }
        }
    }

    /// Special-token text in a raw completion prompt is parsed (as llama.cpp's server and Hugging
    /// Face tokenizers do): whoever writes a raw prompt writes its whole format.
    public func tokenize(_ text: String, addSpecial: Bool) -> [Int32] { tokenizer.encode(text, addSpecial: addSpecial, parseSpecial: true) }

    /// Chat: control tokens only from the template's markup, never from message content.
    public func tokenizeChat(_ messages: [ChatMessage], tools: [ChatTool]) throws -> [Int32] {
        guard let chatTemplate else { throw EngineError.invalidRequest(chatTemplateProblem ?? "no chat template", param: "messages") }
        let prompt: ChatPrompt
        do {
            prompt = try chatTemplate.renderPrompt(
                messages.map {
                    ChatTemplate.Message(role: $0.role, content: $0.content,
                                         toolCalls: $0.toolCalls.map { ChatTemplate.ToolCall(name: $0.name, arguments: $0.arguments) })
                },
                tools: tools.map { ChatTemplate.Tool(name: $0.name, function: $0.function) })
        } catch {
            throw EngineError.invalidRequest("\(error)", param: "messages")
        }
        return tokenizer.encode(prompt, addSpecial: true)
    }

    /// The call syntax the chat template's tool instructions ask for (bare JSON when there is no
    /// template: chat requests fail then anyway).
    public var toolCallFormat: ToolCallFormat {
        switch chatTemplate?.toolCallSyntax {
        case .taggedJSON: .taggedJSON
        case .bareJSON, nil: .bareJSON
        }
    }

    public func tokenText(_ token: Int32) -> String { String(decoding: tokenizer.tokenBytes(token), as: UTF8.self) }

    public func detokenize(_ tokens: [Int32]) -> String { tokenizer.decode(tokens) }

    public func generate(_ request: GenerationRequest) throws -> AsyncThrowingStream<GenerationEvent, any Error> {
        guard case let .ready(engine) = current else {
            if case let .loading(why) = current { throw EngineError.notReady(why) }
            throw EngineError.notReady("shutting down")
        }
        if let failure = engine.failure { throw EngineError.notReady(failure) }
        if let bad = request.prompt.first(where: { $0 < 0 || Int($0) >= tokenizer.vocabularySize }) {
            throw EngineError.invalidRequest("token id \(bad) is outside the vocabulary (size \(tokenizer.vocabularySize))", param: "prompt")
        }
        if request.echoPromptLogprobs {
            throw EngineError.invalidRequest("echo together with logprobs (prompt logprobs) is not supported yet", param: "echo")
        }
        let id = engine.makeSequenceID()
        let top = request.logprobs.map { max(1, min(20, $0)) } ?? 0
        let wanted = request.logprobs
        let promptCount = request.prompt.count
        let (stream, continuation) = AsyncThrowingStream<GenerationEvent, any Error>.makeStream()
        let finished = ManagedFlag()
        let accepted = engine.submit(
            PipelineEngine.Request(id: id, requestID: request.requestID, prompt: request.prompt, stop: request.stop,
                                   sampling: request.sampling, topLogprobs: top, constraint: request.constraint)
        ) { event in
            switch event {
            case let .token(t, _, logprob, topList):
                let trimmed = wanted.map { Array(topList.prefix($0)) } ?? []
                continuation.yield(.token(id: t, logprob: wanted == nil ? nil : logprob, top: trimmed.map { ($0.token, $0.logprob) }))
            case let .text(s):
                continuation.yield(.text(s))
            case let .finished(reason, usage):
                finished.set()
                if reason == .cancelled { continuation.finish(); return }
                continuation.yield(.finished(reason: reason, usage: Usage(promptTokens: promptCount, completionTokens: usage.completionTokens,
                                                                           cachedTokens: min(promptCount, usage.cachedTokens))))
                continuation.finish()
            case let .failed(why):
                finished.set()
                continuation.finish(throwing: EngineError.failed(why))
            case .refused(_, .queueFull):
                finished.set()
                continuation.finish(throwing: EngineError.queueFull(retryAfterSeconds: 1))
            case let .refused(why, .unavailable):
                finished.set()
                continuation.finish(throwing: EngineError.notReady(why))  // the service failed or is stopping: 503
            }
        }
        guard accepted else { throw EngineError.queueFull(retryAfterSeconds: 1) }
        continuation.onTermination = { _ in
            if !finished.isSet { engine.cancel(id) }  // the client went away: free its KV cache
        }
        return stream
    }

    public func recordMetrics() {
        guard case let .ready(engine) = current else { return }
        let s = engine.snapshot
        Gauge(label: "pipeserve:num_requests_running").record(s.running)
        Gauge(label: "pipeserve:num_requests_waiting").record(s.waiting)
        Gauge(label: "pipeserve:kv_cache_usage_tokens").record(s.kvTokensUsed)
        Gauge(label: "pipeserve:prefix_cache_tokens").record(s.kvTokensCached)
        Gauge(label: "pipeserve:prefix_cache_blocks").record(s.prefixCacheBlocks)
        Gauge(label: "pipeserve:tokens_in_flight").record(s.tokensInFlight)
        for (i, busy) in s.stageBusy.enumerated() {
            Gauge(label: "pipeserve:stage_busy_ratio", dimensions: [("stage", "\(i)")]).record(busy ?? 0)
        }
        Gauge(label: "pipeserve:pipeline_bubble_ratio").record(s.bubbleRatio ?? 0)
        // Totals that only grow are counters (Prometheus: rate() and increase() work on them).
        lock.lock()
        let deltas = exported.advance(to: [s.restarts, s.reconfigurations, s.recomputedSequences, s.prefixQueryTokens, s.prefixHitTokens,
                                           s.mixedRotations, s.stalledRotations])
        lock.unlock()
        Counter(label: "pipeserve:stage_restarts_total").increment(by: deltas[0])
        Counter(label: "pipeserve:pipeline_reconfigurations_total").increment(by: deltas[1])
        Counter(label: "pipeserve:recomputed_sequences_total").increment(by: deltas[2])
        Counter(label: "pipeserve:prefix_cache_queries_total").increment(by: deltas[3])
        Counter(label: "pipeserve:prefix_cache_hits_total").increment(by: deltas[4])
        // Stall-free mixing: rotations of decoding streams that carried prompt work, and of those
        // above decode_stall_limit; the prompt tokens allowed per rotation now (-1: no limit yet).
        Counter(label: "pipeserve:mixed_rotations_total").increment(by: deltas[5])
        Counter(label: "pipeserve:stalled_rotations_total").increment(by: deltas[6])
        Gauge(label: "pipeserve:decoding_prompt_allowance_tokens").record(s.decodingChunkTokens ?? -1)
        Gauge(label: "pipeserve:pipeline_stages").record(s.stageLayers.count)
        Gauge(label: "pipeserve:micro_batches").record(s.microBatches)
        let healthy: Int = { if case .ready = engine.status { return 1 } else { return 0 } }()
        Gauge(label: "pipeserve:pipeline_ready").record(healthy)
    }
}

/// The engine's running totals as counter increments: what grew since the last export.
public struct CounterExport: Sendable {
    private var last: [Int] = []

    public init() {}

    /// The increase of each total since the previous call (0 for a total that went down).
    public mutating func advance(to totals: [Int]) -> [Int] {
        defer { last = totals }
        return totals.enumerated().map { index, value in max(0, value - (index < last.count ? last[index] : 0)) }
    }
}

/// A flag set once, read from any thread.
final class ManagedFlag: @unchecked Sendable {
    // Sendable: guarded by `lock`.
    private let lock = NSLock()
    private var value = false
    func set() { lock.lock(); value = true; lock.unlock() }
    var isSet: Bool { lock.lock(); defer { lock.unlock() }; return value }
}
