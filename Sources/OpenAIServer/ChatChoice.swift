import ServingTypes

/// One choice of /v1/chat/completions as its events arrive.
///
/// Tool calls go out as OpenAI `tool_calls` rather than content: each call with an id
/// (`call_…`), `type: "function"`, the function's name and its arguments as a JSON string;
/// streamed, a call's first delta carries id, type, name and empty arguments, later deltas pieces
/// of the arguments; a complete output that made calls finishes with `tool_calls`.
/// - A forced call (`tool_choice` required or a named function): the whole output is the call's
///   JSON (`ToolCallExtractor`), streamed as it is generated; `content` is null.
/// - `tool_choice: "auto"`: the model's text is searched for calls in its family's syntax
///   (`ToolCallParser`); text outside them is `content` (null when there is none beside calls).
struct ChatChoice: ResponseChoice {
    /// How the text relates to tool calls.
    enum ToolMode: Sendable {
        /// No tools (or `tool_choice: "none"`): the text is the content.
        case plain
        /// The output is a forced call's JSON.
        case forced(ToolCallExtractor.Mode)
        /// The model may write calls among its text.
        case parsed(ToolCallParser)
    }

    /// What the text adds, in order.
    private enum Piece {
        case content(String)
        case begin(index: Int, name: String)
        case arguments(index: Int, String)
    }

    struct Call: Sendable, Equatable {
        var id: String
        var name: String
        var arguments: String
    }

    let index: Int
    let logprobs: Bool
    var content = ""
    private(set) var calls: [Call] = []
    var entries: [LogprobEntry] = []
    var pending: [LogprobEntry] = []
    var finishReason: FinishReason?
    var completionTokens = 0
    var cachedTokens = 0
    private var extractor: ToolCallExtractor?
    private var parser: ToolCallParser?

    init(index: Int, logprobs: Bool, toolMode: ToolMode = .plain) {
        self.index = index
        self.logprobs = logprobs
        switch toolMode {
        case .plain: break
        case .forced(let mode): extractor = ToolCallExtractor(mode: mode)
        case .parsed(let parser): self.parser = parser
        }
    }

    /// OpenAI's `finish_reason`: an output that ended as it should after making calls is `tool_calls`.
    var finishReasonText: String? {
        guard let finishReason else { return nil }
        return (extractor != nil || !calls.isEmpty) && finishReason == .stop ? "tool_calls" : finishReason.rawValue
    }

    // MARK: Text to content and calls

    private mutating func pieces(of text: String) -> [Piece] {
        if var x = extractor {
            let events = x.append(text)
            extractor = x
            return events.map { event in
                switch event {
                case let .begin(index, name): .begin(index: index, name: name)
                case let .arguments(index, piece): .arguments(index: index, piece)
                }
            }
        }
        if var p = parser {
            let outputs = p.append(text)
            parser = p
            return pieces(of: outputs)
        }
        return text.isEmpty ? [] : [.content(text)]
    }

    /// What is still held back when the output ends.
    private mutating func finalPieces() -> [Piece] {
        guard var p = parser else { return [] }
        let outputs = p.finish()
        parser = p
        return pieces(of: outputs)
    }

    private func pieces(of outputs: [ToolCallParser.Output]) -> [Piece] {
        var next = calls.count
        return outputs.flatMap { output -> [Piece] in
            switch output {
            case .content(let text):
                return [.content(text)]
            case let .call(name, arguments):
                defer { next += 1 }
                return [.begin(index: next, name: name), .arguments(index: next, arguments)]
            }
        }
    }

    private mutating func record(_ pieces: [Piece]) {
        for piece in pieces {
            switch piece {
            case .content(let text): content += text
            case let .begin(_, name): calls.append(Call(id: Self.newCallID(), name: name, arguments: ""))
            case let .arguments(index, text): calls[index].arguments += text
            }
        }
    }

    static func newCallID() -> String {
        "call_" + (0..<3).map { _ in
            let hex = String(UInt64.random(in: .min ... .max), radix: 16)
            return String(repeating: "0", count: 16 - hex.count) + hex
        }.joined().prefix(24)
    }

    // MARK: Whole answer

    /// Non-streaming: accumulate.
    mutating func apply(_ event: GenerationEvent, engine: any InferenceEngine) {
        switch event {
        case .token(let id, let logprob, let top):
            if logprobs { entries.append(LogprobEntry(TokenLogprob(id: id, logprob: logprob ?? 0, top: top), engine: engine)) }
        case .text(let piece):
            record(pieces(of: piece))
        case .finished(let reason, let usage):
            record(finalPieces())
            finishReason = reason
            completionTokens = usage.completionTokens
            cachedTokens = usage.cachedTokens
        case .promptLogprobs:
            break
        }
    }

    func json() -> JSONValue {
        var message: [(String, JSONValue)] = [("role", .string("assistant"))]
        if extractor != nil || (!calls.isEmpty && content.isEmpty) {
            message.append(("content", .null))
        } else {
            message.append(("content", .string(content)))
        }
        if !calls.isEmpty {
            message.append(("tool_calls", .array(calls.map { call in
                .object([
                    ("id", .string(call.id)), ("type", .string("function")),
                    ("function", .object([("name", .string(call.name)), ("arguments", .string(call.arguments))])),
                ])
            })))
        }
        return .object([
            ("index", .number(index)),
            ("message", .object(message)),
            ("logprobs", logprobs ? .chatLogprobs(entries) : .null),
            ("finish_reason", .optional(finishReasonText)),
        ])
    }

    // MARK: Streaming

    func roleChunk() -> JSONValue {
        .object([
            ("index", .number(index)),
            ("delta", .object([("role", .string("assistant")), ("content", extractor == nil ? .string("") : .null)])),
            ("logprobs", .null), ("finish_reason", .null),
        ])
    }

    /// Streaming: a delta per piece of content or of a call (with the logprobs of the tokens
    /// behind it), and an empty delta with `finish_reason` at the end.
    mutating func streamChunks(for event: GenerationEvent, engine: any InferenceEngine) -> [JSONValue] {
        switch event {
        case .token(let id, let logprob, let top):
            if logprobs { pending.append(LogprobEntry(TokenLogprob(id: id, logprob: logprob ?? 0, top: top), engine: engine)) }
            return []
        case .text(let piece):
            return chunks(for: pieces(of: piece))
        case .finished(let reason, let usage):
            var out = chunks(for: finalPieces())
            completionTokens = usage.completionTokens
            cachedTokens = usage.cachedTokens
            finishReason = reason
            out.append(chunk(delta: .object([]), finishReason: finishReasonText))
            return out
        case .promptLogprobs:
            return []
        }
    }

    private mutating func chunks(for pieces: [Piece]) -> [JSONValue] {
        record(pieces)
        return pieces.map { piece -> JSONValue in
            let delta: JSONValue
            switch piece {
            case .content(let text):
                delta = .object([("content", .string(text))])
            case let .begin(index, name):
                delta = .object([("tool_calls", .array([.object([
                    ("index", .number(index)), ("id", .string(calls[index].id)), ("type", .string("function")),
                    ("function", .object([("name", .string(name)), ("arguments", .string(""))])),
                ])]))])
            case let .arguments(index, text):
                delta = .object([("tool_calls", .array([.object([
                    ("index", .number(index)), ("function", .object([("arguments", .string(text))])),
                ])]))])
            }
            return chunk(delta: delta, finishReason: nil)
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
