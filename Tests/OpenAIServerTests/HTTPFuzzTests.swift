import Foundation
import Hummingbird
import HummingbirdTesting
import Testing

@testable import OpenAIServer

/// Fuzzing of the request path (body reading, JSON parsing, field validation, handlers) against
/// the fake engine: valid completion and chat requests mutated at the JSON level (values
/// replaced by huge, negative, fractional, empty, nested or wrongly typed ones; keys removed,
/// duplicated or unknown) and at the byte level (truncation, random and invalid UTF-8 bytes),
/// plus deep nesting, long number literals and oversized bodies.
///
/// Invariants: never a 5xx; every non-200 is an OpenAI error object; a 200 is a completion (or
/// an SSE stream ending in [DONE]); afterwards a correct request still gets the right answer and
/// every started sequence has finished or been cancelled.
///
/// `PIPESERVE_FUZZ_CASES` (default 300) and `PIPESERVE_FUZZ_SEED` scale and vary the run.
@Suite struct HTTPFuzzTests {
    static let cases = ProcessInfo.processInfo.environment["PIPESERVE_FUZZ_CASES"].flatMap { Int($0) } ?? 300
    static let seed = ProcessInfo.processInfo.environment["PIPESERVE_FUZZ_SEED"].flatMap { UInt64($0) } ?? 0x4854_5450

    static let templates: [(route: String, body: String)] = [
        ("/v1/completions", #"{"prompt":"hello","max_tokens":3,"temperature":0}"#),
        ("/v1/completions", #"{"model":"fake-model","prompt":["a","b"],"max_tokens":2,"n":2,"seed":7,"logprobs":2,"echo":true,"stop":["c"]}"#),
        ("/v1/completions", #"{"prompt":[5,6,7],"max_tokens":4,"stream":true,"stream_options":{"include_usage":true},"top_p":0.9,"top_k":5}"#),
        ("/v1/chat/completions", #"{"messages":[{"role":"system","content":"s"},{"role":"user","content":"hi"}],"max_tokens":3}"#),
        ("/v1/chat/completions", #"{"messages":[{"role":"user","content":[{"type":"text","text":"x"}]}],"stream":true,"logprobs":true,"top_logprobs":2,"max_completion_tokens":2}"#),
    ]

    static let values: [String] = [
        "null", "true", "false", "0", "-1", "1", "2", "0.5", "-0.0", "1e400", "-1e400", "1e-400", "9223372036854775807",
        "9223372036854775808", "-9223372036854775809", "18446744073709551616", "4294967296", "2147483648", "1.0",
        "123456789012345678901234567890", "1E+2", "\"\"", "\"x\"", #""\u0000""#, #""\ud800""#, #""\udc00\ud800""#,
        #""😀""#, "[]", "{}", "[1,2]", #"["a",1]"#, #"[{"role":"user"}]"#, #"{"role":"user","content":"x"}"#,
        #"[{"role":"user","content":null}]"#, #"[[1]]"#, #"["\u0000"]"#, String(repeating: "9", count: 400),
        "[" + String(repeating: "[", count: 300) + String(repeating: "]", count: 300) + "]",
        "\"" + String(repeating: "é", count: 3000) + "\"",
    ]

    struct Tally: CustomStringConvertible {
        var cases = 0
        var byStatus: [Int: Int] = [:]
        var description: String {
            "cases=\(cases) status=\(byStatus.sorted { $0.key < $1.key }.map { "\($0.key):\($0.value)" }.joined(separator: ",")) crashes=0"
        }
    }

    @Test func mutatedRequestsGetCleanAnswers() async throws {
        let engine = FakeEngine()
        let configuration = OpenAIServerConfiguration(port: 0, maxBodyBytes: 64 << 10)
        var g = SeededGenerator(seed: Self.seed)
        var inputs: [(String, [UInt8])] = []
        for _ in 0..<Self.cases { inputs.append(Self.makeCase(&g)) }
        let fixedInputs = inputs
        let tally = Locked(Tally())
        try await withServer(engine: engine, configuration: configuration) { client in
            for (index, (route, body)) in fixedInputs.enumerated() {
                var headers: HTTPFields = [.contentType: "application/json"]
                if index % 7 == 0 { headers[.contentType] = "text/plain" }
                let response = try await client.executeRequest(
                    uri: route, method: .post, headers: headers, body: ByteBuffer(bytes: body))
                let status = Int(response.status.code)
                tally.withLock { $0.cases += 1; $0.byStatus[status, default: 0] += 1 }
                let show = "case \(index) seed \(Self.seed): \(route) \(String(decoding: body.prefix(300), as: UTF8.self)) → \(status) \(response.text.prefix(300))"
                if index % 7 == 0 {
                    // Not declared as JSON: never parsed, never started (a cross-site POST).
                    #expect([404, 405, 415].contains(status), "\(show)")
                } else {
                    #expect([200, 400, 404, 405, 413].contains(status), "\(show)")
                }
                if status != 200 {
                    #expect(response.json["error"]?["message"]?.string?.isEmpty == false, "\(show)")
                } else if response.headers[.contentType] == "text/event-stream" {
                    #expect(response.events.last == "[DONE]", "\(show)")
                    #expect(response.eventJSON.allSatisfy { $0["error"] == nil }, "\(show)")
                } else {
                    #expect(response.json["choices"]?.array?.isEmpty == false, "\(show)")
                }
            }
            // Still serving correctly.
            let ok = try await client.post("/v1/completions", #"{"prompt":"x","max_tokens":4,"temperature":0}"#)
            #expect(ok.status == .ok)
            #expect(ok.json["choices"]?[0]?["text"]?.string == "abcd")
        }
        // Every sequence the fuzz cases started has ended (none left holding engine resources).
        try await waitUntil { let c = engine.counters.current; return c.started == c.terminated }
        let c = engine.counters.current
        #expect(c.started == c.terminated, "started \(c.started), finished \(c.finished), cancelled \(c.cancelled), terminated \(c.terminated)")
        print("fuzz-summary surface=http-inprocess seed=\(Self.seed) \(tally.current)")
        let statuses = tally.current.byStatus
        if Self.cases >= 100 {
            #expect((statuses[200] ?? 0) > Self.cases / 50, "mutations never produce a valid request")
            #expect((statuses[400] ?? 0) > Self.cases / 5)
        }
    }

    /// One fuzz input: a route and a body.
    static func makeCase(_ g: inout SeededGenerator) -> (String, [UInt8]) {
        let template = templates.randomElement(using: &g)!
        let route = Int.random(in: 0..<50, using: &g) == 0 ? "/v1/" + ["models", "complete", "chat/completions/x"].randomElement(using: &g)! : template.route
        switch Int.random(in: 0..<10, using: &g) {
        case 0:  // byte-level damage
            var b = Array(template.body.utf8)
            for _ in 0..<Int.random(in: 1...3, using: &g) where !b.isEmpty {
                let at = Int.random(in: 0..<b.count, using: &g)
                switch Int.random(in: 0..<4, using: &g) {
                case 0: b[at] = UInt8.random(in: 0...255, using: &g)
                case 1: b.insert(contentsOf: [[0xC3, 0x28], [0xFF], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0xC0, 0xAF], [0]].randomElement(using: &g)!, at: at)
                case 2: b.removeSubrange(at..<b.count)
                default: b.insert(contentsOf: Array(b[at...].prefix(20)), at: at)
                }
            }
            return (route, b)
        case 1:  // structural extremes
            let n = [10, 513, 5000, 60000].randomElement(using: &g)!
            let body: String
            switch Int.random(in: 0..<5, using: &g) {
            case 0: body = String(repeating: "[", count: n) + String(repeating: "]", count: n)
            case 1: body = #"{"prompt":"# + String(repeating: "{\"a\":", count: n) + "1" + String(repeating: "}", count: n) + "}"
            case 2: body = #"{"prompt":"x","max_tokens":"# + String(repeating: "9", count: n) + "}"
            case 3: body = #"{"prompt":""# + String(repeating: "\\u00e9", count: n) + #"","max_tokens":1}"#
            default: body = #"{"prompt":"x","# + (0..<min(n, 3000)).map { "\"k\($0)\":\($0)" }.joined(separator: ",") + "}"
            }
            return (route, Array(body.utf8))
        default:  // JSON-level: splice interesting values into the template's fields
            var body = template.body
            for _ in 0..<Int.random(in: 1...3, using: &g) { body = mutateJSON(body, &g) }
            return (route, Array(body.utf8))
        }
    }

    /// Replaces, removes, duplicates or adds one `"key":value` pair of a flat-ish JSON object by
    /// text surgery (keeps nested objects of the templates reachable too).
    static func mutateJSON(_ text: String, _ g: inout SeededGenerator) -> String {
        let keys = ["prompt", "max_tokens", "temperature", "top_p", "top_k", "n", "seed", "stream", "stop", "logprobs",
                    "echo", "messages", "role", "content", "model", "stream_options", "include_usage", "top_logprobs",
                    "min_p", "presence_penalty", "frequency_penalty", "repetition_penalty", "max_completion_tokens",
                    "best_of", "suffix", "logit_bias", "user", "ignore_eos", "tools", "type", "text", "bogus"]
        var s = text
        let key = keys.randomElement(using: &g)!
        let value = values.randomElement(using: &g)!
        let needle = "\"\(key)\":"
        if let range = s.range(of: needle) {
            // Find the end of the current value: up to the next ',' or '}' or ']' at depth 0.
            var depth = 0
            var inString = false
            var escaped = false
            var end = range.upperBound
            scan: while end < s.endIndex {
                let c = s[end]
                if inString {
                    if escaped { escaped = false } else if c == "\\" { escaped = true } else if c == "\"" { inString = false }
                } else {
                    switch c {
                    case "\"": inString = true
                    case "[", "{": depth += 1
                    case "]", "}": if depth == 0 { break scan } else { depth -= 1 }
                    case ",": if depth == 0 { break scan }
                    default: break
                    }
                }
                end = s.index(after: end)
            }
            switch Int.random(in: 0..<4, using: &g) {
            case 0:  // remove the pair (leaves a stray comma sometimes: also a fine input)
                s.replaceSubrange(range.lowerBound..<end, with: "")
            case 1:  // duplicate key with another value
                s.replaceSubrange(range.lowerBound..<end, with: s[range.lowerBound..<end] + "," + needle + value)
            default:
                s.replaceSubrange(range.upperBound..<end, with: value)
            }
        } else if let brace = s.firstIndex(of: "{") {
            s.insert(contentsOf: needle + value + ",", at: s.index(after: brace))
        }
        return s
    }
}

/// SplitMix64, so every fuzz case is reproducible from its seed.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
