import Foundation
import OpenAIServer
import ServingTypes

/// A lock-protected value for test doubles shared across tasks.
final class Locked<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value

    init(_ value: Value) { self.value = value }

    func withLock<T>(_ body: (inout Value) throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }

    var current: Value { withLock { $0 } }
}

/// A deterministic engine: one token per Unicode scalar (BOS = 1, shown as "<s>"), and the
/// completion of a sequence is the alphabet starting at `seed % 26` when sampling (at "a" when
/// greedy), one letter per token. Delays, start errors and mid-stream failures are configurable;
/// it counts started, finished and cancelled sequences so tests can observe termination.
final class FakeEngine: InferenceEngine, Sendable {
    struct Behaviour: Sendable {
        var health: EngineHealth = .ready(stages: [StageHealth(index: 0, layers: 0..<9), StageHealth(index: 1, layers: 9..<18)])
        var startError: EngineError?
        var tokenDelay: Duration = .zero
        /// Fail the stream with `EngineError.failed` after this many tokens.
        var failAfterTokens: Int?
        /// Emit the end-of-sequence (finish "stop") after this many tokens.
        var eosAfterTokens: Int?
        /// Instead of letters: these text pieces, one token each, then "stop" (or "length" when
        /// max_tokens ends it first).
        var script: [String]?
        /// The call syntax `tool_choice: "auto"` output is parsed in.
        var toolCallFormat = ToolCallFormat.taggedJSON
    }

    struct Counters: Sendable {
        var started = 0
        var finished = 0
        var cancelled = 0
        /// Streams ended for any reason (finished, failed or cancelled): exactly once each.
        var terminated = 0
        var requests: [GenerationRequest] = []
        var metricsRecorded = 0
    }

    let modelName = "fake-model"
    let contextLength: Int
    let behaviour: Locked<Behaviour>
    let counters = Locked(Counters())

    init(contextLength: Int = 64, behaviour: Behaviour = Behaviour()) {
        self.contextLength = contextLength
        self.behaviour = Locked(behaviour)
    }

    var health: EngineHealth { behaviour.current.health }

    func tokenize(_ text: String, addSpecial: Bool) -> [Int32] {
        (addSpecial ? [1] : []) + text.unicodeScalars.map { Int32($0.value) }
    }

    /// `<tools>` with each declaration's JSON (when there are tools), then `<role>content` per
    /// message, an assistant's calls as `<call>name arguments</call>`, and `<assistant>`.
    func tokenizeChat(_ messages: [ChatMessage], tools: [ChatTool]) throws -> [Int32] {
        for message in messages where message.content.contains("{{unrenderable}}") {
            throw EngineError.invalidRequest("the chat template cannot render this message", param: "messages")
        }
        let declared = tools.isEmpty ? "" : "<tools>" + tools.map(\.function).joined() + "</tools>"
        let turns = messages.map { m in
            "<\(m.role)>\(m.content)" + m.toolCalls.map { "<call>\($0.name) \($0.arguments)</call>" }.joined()
        }
        return tokenize(declared + turns.joined() + "<assistant>", addSpecial: true)
    }

    var toolCallFormat: ToolCallFormat { behaviour.current.toolCallFormat }

    func tokenText(_ token: Int32) -> String {
        token == 1 ? "<s>" : UnicodeScalar(UInt32(token)).map { String($0) } ?? "?"
    }

    func detokenize(_ tokens: [Int32]) -> String {
        tokens.filter { $0 != 1 }.map(tokenText).joined()
    }

    func recordMetrics() {
        counters.withLock { $0.metricsRecorded += 1 }
    }

    /// The completion letter at position `k` of a sequence.
    static func letter(_ k: Int, request: GenerationRequest) -> Int32 {
        let offset = request.sampling.temperature > 0 ? Int(request.sampling.seed % 26) : 0
        return Int32(UnicodeScalar("a").value) + Int32((k + offset) % 26)
    }

    func generate(_ request: GenerationRequest) throws -> AsyncThrowingStream<GenerationEvent, any Error> {
        let behaviour = self.behaviour.current
        if let error = behaviour.startError { throw error }
        switch behaviour.health {
        case .ready, .recovering: break  // as the real engine: requests wait during a restart
        default: throw EngineError.notReady("loading")
        }
        counters.withLock {
            $0.started += 1
            $0.requests.append(request)
        }
        let (stream, continuation) = AsyncThrowingStream<GenerationEvent, any Error>.makeStream()
        let counters = self.counters
        let task = Task {
            do {
                try await Self.produce(request, behaviour: behaviour, into: continuation)
                counters.withLock { $0.finished += 1 }
            } catch {
                continuation.finish(throwing: error)
            }
        }
        continuation.onTermination = { termination in
            counters.withLock { $0.terminated += 1 }
            if case .cancelled = termination {
                counters.withLock { $0.cancelled += 1 }
            }
            task.cancel()
        }
        return stream
    }

    private static func produce(
        _ request: GenerationRequest, behaviour: Behaviour,
        into continuation: AsyncThrowingStream<GenerationEvent, any Error>.Continuation
    ) async throws {
        if request.echoPromptLogprobs {
            continuation.yield(.promptLogprobs(request.prompt.enumerated().map { index, id in
                index == 0 ? TokenLogprob(id: id, logprob: nil) : TokenLogprob(id: id, logprob: -1, top: [(id, -1)])
            }))
        }
        if let script = behaviour.script {
            for (k, piece) in script.prefix(request.stop.maxTokens).enumerated() {
                continuation.yield(.token(id: Int32(1000 + k), logprob: nil, top: []))
                continuation.yield(.text(piece))
            }
            let count = min(script.count, request.stop.maxTokens)
            continuation.yield(.finished(reason: script.count > request.stop.maxTokens ? .length : .stop,
                                         usage: Usage(promptTokens: request.prompt.count, completionTokens: count)))
            continuation.finish()
            return
        }
        var text = ""
        var emitted = 0  // characters of `text` already sent
        var count = 0
        var reason = FinishReason.length
        while count < request.stop.maxTokens {
            if behaviour.tokenDelay > .zero { try await Task.sleep(for: behaviour.tokenDelay) }
            try Task.checkCancellation()
            if let failAfter = behaviour.failAfterTokens, count >= failAfter {
                throw EngineError.failed("stage 1 crashed")
            }
            if let eos = behaviour.eosAfterTokens, count >= eos {
                reason = .stop
                break
            }
            let id = letter(count, request: request)
            count += 1
            let logprob: Float? = request.logprobs == nil ? nil : -0.5 * Float(count)
            let top = (0..<(request.logprobs ?? 0)).map { (id: id + Int32($0), logprob: -0.5 * Float(count) - Float($0)) }
            continuation.yield(.token(id: id, logprob: logprob, top: top))
            text.unicodeScalars.append(UnicodeScalar(UInt32(id))!)
            if let range = request.stop.stopStrings.compactMap({ text.range(of: $0) }).min(by: { $0.lowerBound < $1.lowerBound }) {
                let final = String(text[..<range.lowerBound])
                if final.count > emitted { continuation.yield(.text(String(final.dropFirst(emitted)))) }
                reason = .stop
                emitted = -1
                break
            }
            // Hold back a tail that could still become a stop string.
            var safe = text.count
            for stop in request.stop.stopStrings {
                for length in stride(from: min(stop.count - 1, text.count), to: 0, by: -1)
                where text.hasSuffix(stop.prefix(length)) {
                    safe = min(safe, text.count - length)
                    break
                }
            }
            if safe > emitted {
                continuation.yield(.text(String(text.dropFirst(emitted).prefix(safe - emitted))))
                emitted = safe
            }
        }
        if emitted >= 0, text.count > emitted { continuation.yield(.text(String(text.dropFirst(emitted)))) }
        continuation.yield(.finished(reason: reason, usage: Usage(promptTokens: request.prompt.count, completionTokens: count)))
        continuation.finish()
    }
}
