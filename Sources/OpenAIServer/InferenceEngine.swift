// The boundary between the HTTP layer and whatever generates tokens. The integrator adapts the
// real pipeline (coordinator + stages) to `InferenceEngine`; tests use a fake. Nothing in this
// module imports another pipeserve module but the shared request vocabulary (ServingTypes).

import ServingTypes

/// What the HTTP server needs from the inference engine.
///
/// Every method may be called concurrently from many requests. Text reaches the server through
/// `.text` events that the engine has already made safe to show (held back around stop strings,
/// never splitting a UTF-8 character); token ids and log-probabilities come through `.token`.
public protocol InferenceEngine: Sendable {
    /// The model name served in `/v1/models` and checked against a request's `model` field.
    var modelName: String { get }
    /// Maximum number of tokens (prompt + completion) a sequence may hold.
    var contextLength: Int { get }
    /// Current state, reported by `/health` and used to refuse work while not ready.
    var health: EngineHealth { get }
    /// Encodes a raw prompt (`/v1/completions`) to token ids; `addSpecial` adds the model's BOS
    /// (or equivalent) tokens. Special-token text in it (`<start_of_turn>`) may become control
    /// tokens: the caller of a raw completion writes the whole prompt.
    func tokenize(_ text: String, addSpecial: Bool) -> [Int32]
    /// Renders chat messages with the model's chat template, ending with the assistant turn's
    /// opening, and tokenizes the result (with BOS). `tools` (possibly empty) are the functions
    /// the model may call, described in the template's own tool format; assistant messages'
    /// `toolCalls` are written in the call syntax of `toolCallFormat`. Control tokens come only
    /// from the template's own markup: special-token text inside a message's content (or a tool's
    /// description) stays text, so a user cannot forge a model or system turn. Throws
    /// `EngineError.invalidRequest` for messages the template cannot express.
    func tokenizeChat(_ messages: [ChatMessage], tools: [ChatTool]) throws -> [Int32]
    /// How the chat template asks the model to write tool calls, so that the HTTP layer can find
    /// them in the generated text (`tool_choice: "auto"`).
    var toolCallFormat: ToolCallFormat { get }
    /// The text of one token, used for the `tokens` / `top_logprobs` entries of logprobs.
    func tokenText(_ token: Int32) -> String
    /// Decodes a token sequence to text, used to echo a prompt given as token ids.
    func detokenize(_ tokens: [Int32]) -> String
    /// Starts one sequence.
    ///
    /// Throws `EngineError.queueFull`, `.notReady` or `.invalidRequest` before anything starts.
    /// The stream yields one `.token` per generated token (always, with `logprob` nil when not
    /// requested), `.text` as text becomes final, optionally one `.promptLogprobs` first, and ends
    /// after `.finished`. When the consumer stops iterating (the client went away, the request
    /// timed out) the stream's `onTermination` must cancel the sequence and free its KV cache.
    func generate(_ request: GenerationRequest) throws -> AsyncThrowingStream<GenerationEvent, any Error>
    /// Called just before `/metrics` renders, so the engine can refresh its gauges.
    func recordMetrics()
}

/// The engine's state as `/health` reports it.
public enum EngineHealth: Sendable {
    /// Stages are starting or loading weights.
    case loading(String)
    /// A stage failed and is being restarted; in-flight work will be recomputed.
    case recovering(String)
    /// Every stage has answered its handshake.
    case ready(stages: [StageHealth])
    /// Gave up (repeated crashes); the service is about to exit.
    case failed(String)
}

/// One stage's line in the `/health` body.
public struct StageHealth: Sendable {
    /// Position of the stage in the pipeline, from 0.
    public var index: Int
    /// Short state word, such as "ok" or "restarting".
    public var status: String
    /// The transformer layers the stage owns (half-open).
    public var layers: Range<Int>?
    /// How many times the stage has been restarted since the service started.
    public var restarts: Int

    public init(index: Int, status: String = "ok", layers: Range<Int>? = nil, restarts: Int = 0) {
        self.index = index
        self.status = status
        self.layers = layers
        self.restarts = restarts
    }
}

/// One sequence to generate, already validated and tokenized by the HTTP layer. Its settings are
/// the shared request vocabulary (`ServingTypes`), passed on to the engine as they are.
public struct GenerationRequest: Sendable {
    /// The API request it belongs to (`cmpl-…`): the engine's log lines carry it.
    public var requestID: RequestID
    /// Prompt token ids (never empty).
    public var prompt: [Int32]
    /// How tokens are chosen; choice i of a request samples with the request's seed + i.
    public var sampling: SamplingParameters
    /// `max_tokens` (>= 1; prompt + max_tokens <= contextLength), stop strings, `ignore_eos`.
    public var stop: StopConditions
    /// nil: no logprobs. 0...20: logprob of each sampled token plus that many alternatives.
    public var logprobs: Int?
    /// Also report the logprobs of the prompt tokens (one `.promptLogprobs` event before the
    /// first generated token); used by `echo` with `logprobs` on /v1/completions.
    public var echoPromptLogprobs: Bool
    /// The shape the output must have (structured output), already validated; nil: free text.
    /// The engine allows only tokens that keep the output inside it, and end-of-generation only
    /// where the output is complete.
    public var constraint: OutputConstraint?

    public init(requestID: RequestID = "", prompt: [Int32], sampling: SamplingParameters = SamplingParameters(),
                stop: StopConditions, logprobs: Int? = nil, echoPromptLogprobs: Bool = false,
                constraint: OutputConstraint? = nil) {
        self.requestID = requestID
        self.prompt = prompt
        self.sampling = sampling
        self.stop = stop
        self.logprobs = logprobs
        self.echoPromptLogprobs = echoPromptLogprobs
        self.constraint = constraint
    }
}

/// A token with its log-probability and the most likely alternatives at its position.
public struct TokenLogprob: Sendable {
    public var id: Int32
    /// nil for the first prompt token (nothing predicts it).
    public var logprob: Float?
    /// Alternatives, most likely first (at most the requested number).
    public var top: [(id: Int32, logprob: Float)]

    public init(id: Int32, logprob: Float?, top: [(id: Int32, logprob: Float)] = []) {
        self.id = id
        self.logprob = logprob
        self.top = top
    }
}

/// What a sequence's stream yields.
public enum GenerationEvent: Sendable {
    /// One generated token. `logprob`/`top` are filled only when logprobs were requested.
    case token(id: Int32, logprob: Float?, top: [(id: Int32, logprob: Float)])
    /// Final text (UTF-8 complete, stop strings removed); concatenated it is the completion.
    case text(String)
    /// Logprobs of the prompt tokens (only when `echoPromptLogprobs`), before any `.token`.
    case promptLogprobs([TokenLogprob])
    /// The sequence ended (`.stop` or `.length`; a cancelled sequence just ends its stream);
    /// the stream finishes right after.
    case finished(reason: FinishReason, usage: Usage)
}

/// Errors the engine reports; the HTTP layer maps them to status codes in one place (`APIError`).
public enum EngineError: Error, Sendable {
    /// The waiting queue is full: 503 with `Retry-After`.
    case queueFull(retryAfterSeconds: Int)
    /// Loading or recovering: 503 with `Retry-After`.
    case notReady(String)
    /// The request cannot be served as asked: 400, `param` names the field when known.
    case invalidRequest(String, param: String?)
    /// The engine failed: 500 before a stream starts, an error event inside a stream.
    case failed(String)
}

/// One chat message after the HTTP layer has flattened content parts to text.
public struct ChatMessage: Sendable, Codable, Equatable {
    /// "system", "user", "assistant" or "tool" ("developer" arrives as "system").
    public var role: String
    public var content: String
    /// The tool calls of an assistant message, for the template to write in its call syntax.
    public var toolCalls: [ChatToolCall]

    public init(role: String, content: String, toolCalls: [ChatToolCall] = []) {
        self.role = role
        self.content = content
        self.toolCalls = toolCalls
    }
}

/// A tool call an assistant message made earlier in the conversation.
public struct ChatToolCall: Sendable, Codable, Equatable {
    public var name: String
    /// The arguments as compact JSON text (an object as the client sent it; arguments that were
    /// not JSON arrive as a JSON string).
    public var arguments: String

    public init(name: String, arguments: String) {
        self.name = name
        self.arguments = arguments
    }
}

/// A function the model may call, for the chat template to describe in the prompt.
public struct ChatTool: Sendable, Codable, Equatable {
    public var name: String
    /// The declaration as compact JSON, `{"name": …, "description": …, "parameters": {…}}` (the
    /// `function` member of the request's tool, without `strict`).
    public var function: String

    public init(name: String, function: String) {
        self.name = name
        self.function = function
    }
}
