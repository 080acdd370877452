import Foundation
import Hummingbird
import ServingTypes

/// The shared request id (Hummingbird has a `RequestID` of its own, for its log lines; this
/// name wins inside the module and for its importers).
public typealias RequestID = ServingTypes.RequestID

extension ServingTypes.RequestID {
    /// A fresh public id ("cmpl-…", "chatcmpl-…"): in the response body, the `x-request-id`
    /// header and the `request.id` log metadata, down to the stages.
    init(prefix: String) {
        var generator = SystemRandomNumberGenerator()
        let digits = Array("0123456789abcdef")
        self.init(prefix + "-" + String((0..<24).map { _ in digits[Int(generator.next() % 16)] }))
    }
}

/// Server-Sent Events framing.
enum SSE {
    static var headers: HTTPFields {
        [.contentType: "text/event-stream", .cacheControl: "no-cache", HeaderName("X-Accel-Buffering")!: "no"]
    }

    static func event(_ json: JSONValue) -> ByteBuffer {
        ByteBuffer(string: "data: " + json.serialized + "\n\n")
    }

    static var done: ByteBuffer { ByteBuffer(string: "data: [DONE]\n\n") }
}

/// One token's logprob line, with token texts resolved.
struct LogprobEntry: Sendable {
    var token: String
    /// nil for the first prompt token.
    var logprob: Float?
    /// nil for the first prompt token.
    var top: [(token: String, logprob: Float)]?

    init(_ token: TokenLogprob, engine: any InferenceEngine) {
        self.token = engine.tokenText(token.id)
        self.logprob = token.logprob
        self.top = token.logprob == nil ? nil : token.top.map { (engine.tokenText($0.id), $0.logprob) }
    }

    /// Length as OpenAI's `text_offset` counts it (code points).
    var length: Int { token.unicodeScalars.count }
}

extension JSONValue {
    /// OpenAI's legacy completions logprobs object; offsets count from `startOffset`.
    static func legacyLogprobs(_ entries: [LogprobEntry], startOffset: Int) -> JSONValue {
        var offset = startOffset
        var offsets: [JSONValue] = []
        for entry in entries {
            offsets.append(.number(offset))
            offset += entry.length
        }
        return .object([
            ("tokens", .array(entries.map { .string($0.token) })),
            ("token_logprobs", .array(entries.map { $0.logprob.map { .number($0) } ?? .null })),
            ("top_logprobs", .array(entries.map { entry in
                entry.top.map { top in .object(top.map { ($0.token, .number($0.logprob)) }) } ?? .null
            })),
            ("text_offset", .array(offsets)),
        ])
    }

    /// OpenAI's chat logprobs object (`{"content": [...]}`).
    static func chatLogprobs(_ entries: [LogprobEntry]) -> JSONValue {
        func item(_ token: String, _ logprob: Float) -> [(String, JSONValue)] {
            [("token", .string(token)), ("logprob", .number(logprob)), ("bytes", .array(token.utf8.map { .number(Int($0)) }))]
        }
        return .object([
            ("content", .array(entries.map { entry in
                .object(item(entry.token, entry.logprob ?? 0) + [
                    ("top_logprobs", .array((entry.top ?? []).map { .object(item($0.token, $0.logprob)) })),
                ])
            })),
        ])
    }

    static func usage(prompt: Int, completion: Int, cached: Int = 0) -> JSONValue {
        .object([
            ("prompt_tokens", .number(prompt)), ("completion_tokens", .number(completion)),
            ("total_tokens", .number(prompt + completion)),
            ("prompt_tokens_details", .object([("cached_tokens", .number(cached))])),
        ])
    }
}

/// Seconds since 1970, for `created`.
func unixTime() -> Int {
    Int(Date().timeIntervalSince1970)
}

/// `HTTPField.Name` (swift-http-types is not re-exported by Hummingbird, but `HTTPFields` is).
typealias HeaderName = HTTPFields.Element.Name
