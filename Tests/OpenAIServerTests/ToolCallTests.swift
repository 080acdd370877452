import Foundation
import Hummingbird
import HummingbirdTesting
import ServingTypes
import Testing

@testable import OpenAIServer

/// The text of a forced call becomes OpenAI `tool_calls`, piece by piece: every way of cutting
/// the text gives the same calls.
@Suite struct ToolCallExtractorTests {
    static let array = #"[ {"name": "get_weather", "parameters": {"city": "Oslo, \"NO\" [x]", "days": [1, {"a": "}"}]}},"#
        + #"{"name":"lookup","parameters":{"query":{"term":"x"}}} , {"name": "ping", "parameters": 7}]"#

    static func run(_ mode: ToolCallExtractor.Mode, _ pieces: [String]) -> (ToolCallExtractor, [ToolCallExtractor.Event]) {
        var x = ToolCallExtractor(mode: mode)
        var events: [ToolCallExtractor.Event] = []
        for p in pieces { events += x.append(p) }
        return (x, events)
    }

    @Test func theArrayFormGivesEachCallsNameAndExactArgumentsWhereverTheTextIsCut() {
        let expected = [
            ToolCallExtractor.Call(name: "get_weather", arguments: #"{"city": "Oslo, \"NO\" [x]", "days": [1, {"a": "}"}]}"#),
            ToolCallExtractor.Call(name: "lookup", arguments: #"{"query":{"term":"x"}}"#),
            ToolCallExtractor.Call(name: "ping", arguments: "7"),
        ]
        let chars = Self.array.map(String.init)
        for size in [1, 2, 3, 7, 1000] {
            let pieces = stride(from: 0, to: chars.count, by: size).map { chars[$0 ..< min(chars.count, $0 + size)].joined() }
            let (x, events) = Self.run(.array, pieces)
            #expect(x.calls == expected, "pieces of \(size)")
            // Events: each call begins before its arguments, and its pieces join to its arguments.
            for (i, call) in expected.enumerated() {
                let begin = events.firstIndex(of: .begin(index: i, name: call.name))
                let pieces = events.compactMap { if case let .arguments(j, text) = $0, j == i { text } else { nil } }
                let first = events.firstIndex { if case let .arguments(j, _) = $0 { j == i } else { false } }
                #expect(begin != nil && (first ?? .max) > (begin ?? .max), "pieces of \(size), call \(i)")
                #expect(pieces.joined() == call.arguments, "pieces of \(size), call \(i)")
            }
        }
    }

    @Test func aNamedCallIsTheWholeTextAfterItsLeadingGap() {
        let (x, events) = Self.run(.named("f"), ["\n", "", " {\"a\":", " 1}"])
        #expect(x.calls == [ToolCallExtractor.Call(name: "f", arguments: "{\"a\": 1}")])
        #expect(events == [.begin(index: 0, name: "f"), .arguments(index: 0, "{\"a\":"), .arguments(index: 0, " 1}")])
    }

    @Test func textCutShortGivesWhatItHas() {
        let (x, _) = Self.run(.array, [#"[{"name": "get_weather", "parameters": {"city": "Os"#])
        #expect(x.calls == [ToolCallExtractor.Call(name: "get_weather", arguments: #"{"city": "Os"#)])
        let (y, events) = Self.run(.array, [#"[{"name": "get_wea"#])
        #expect(y.calls.isEmpty && events.isEmpty)
    }
}

/// Forced tool calls over HTTP: `tool_calls` with ids, names and argument strings, finish reason
/// `tool_calls`, and the same calls streamed as OpenAI streams them; tool messages and assistant
/// tool calls in the history reach the template.
@Suite struct ToolCallResponseTests {
    static let tools = StructuredOutputTests.tools
    static let chat = #""messages":[{"role":"user","content":"weather?"}],"max_tokens":50"#

    func engine(_ script: [String]) -> FakeEngine {
        var b = FakeEngine.Behaviour()
        b.script = script
        return FakeEngine(contextLength: 4096, behaviour: b)  // the tools are rendered into the prompt
    }

    @Test func aNamedCallIsReturnedAsToolCalls() async throws {
        let engine = engine(["{\"city\"", ": \"Oslo\"}"])
        try await withServer(engine: engine) { client in
            let body = "{" + Self.chat + "," + Self.tools + #","tool_choice":{"type":"function","function":{"name":"get_weather"}}}"#
            let r = try await client.post("/v1/chat/completions", body)
            #expect(r.status == .ok, "\(r.text)")
            let choice = r.json["choices"]?[0]
            #expect(choice?["finish_reason"]?.string == "tool_calls")
            let message = choice?["message"]
            #expect(message?["content"]?.isNull == true, "\(r.text)")
            let call = message?["tool_calls"]?[0]
            #expect(call?["id"]?.string?.hasPrefix("call_") == true && call?["id"]?.string?.count == 29, "\(r.text)")
            #expect(call?["type"]?.string == "function")
            #expect(call?["function"]?["name"]?.string == "get_weather")
            #expect(call?["function"]?["arguments"]?.string == #"{"city": "Oslo"}"#)
        }
    }

    @Test func requiredCallsStreamAsOpenAIStreamsThem() async throws {
        let text = #"[{"name": "get_weather", "parameters": {"city": "Oslo"}}, {"name": "lookup", "parameters": {"query": {"term": "x"}}}]"#
        let pieces = stride(from: 0, to: text.count, by: 5).map { String(Array(text)[$0 ..< min(text.count, $0 + 5)]) }
        let engine = engine(pieces)
        try await withServer(engine: engine) { client in
            let body = "{" + Self.chat + "," + Self.tools + #","tool_choice":"required","stream":true}"#
            let r = try await client.post("/v1/chat/completions", body)
            #expect(r.status == .ok)
            let chunks = r.eventJSON
            let deltas = chunks.compactMap { $0["choices"]?[0]?["delta"] }
            #expect(deltas.first?["role"]?.string == "assistant" && deltas.first?["content"]?.isNull == true, "\(r.text)")
            var names: [Int: String] = [:], ids: [Int: String] = [:], arguments: [Int: String] = [:]
            for d in deltas {
                #expect(d["content"] == nil || d["content"]?.isNull == true, "no content beside tool calls: \(d)")
                guard case .array(let calls)? = d["tool_calls"] else { continue }
                #expect(calls.count == 1, "one call per delta")
                for c in calls {
                    let i = c["index"]?.int ?? -1
                    if let id = c["id"]?.string {
                        #expect(ids[i] == nil && c["type"]?.string == "function" && c["function"]?["arguments"]?.string == "", "\(c)")
                        ids[i] = id
                        names[i] = c["function"]?["name"]?.string
                    } else {
                        #expect(ids[i] != nil && c["function"]?["name"] == nil, "arguments only after the call's first delta: \(c)")
                    }
                    arguments[i, default: ""] += c["function"]?["arguments"]?.string ?? ""
                }
            }
            #expect(names == [0: "get_weather", 1: "lookup"])
            #expect(arguments == [0: #"{"city": "Oslo"}"#, 1: #"{"query": {"term": "x"}}"#])
            #expect(Set(ids.values).count == 2 && ids.values.allSatisfy { $0.hasPrefix("call_") })
            #expect(chunks.last?["choices"]?[0]?["finish_reason"]?.string == "tool_calls", "\(r.text)")
            #expect(r.events.last == "[DONE]")
        }
        // Not streamed: the same calls.
        try await withServer(engine: engine) { client in
            let r = try await client.post("/v1/chat/completions", "{" + Self.chat + "," + Self.tools + #","tool_choice":"required"}"#)
            let calls = r.json["choices"]?[0]?["message"]?["tool_calls"]
            #expect(calls?[0]?["function"]?["arguments"]?.string == #"{"city": "Oslo"}"#)
            #expect(calls?[1]?["function"]?["name"]?.string == "lookup")
            #expect(calls?[1]?["function"]?["arguments"]?.string == #"{"query": {"term": "x"}}"#)
        }
    }

    @Test func aCallCutByMaxTokensEndsWithLength() async throws {
        let engine = engine(["[{\"name\": \"get_weather\", ", "\"parameters\": {\"city\"", ": \"Oslo\"}}]"])
        try await withServer(engine: engine) { client in
            let body = #"{"messages":[{"role":"user","content":"w"}],"max_tokens":2,"# + Self.tools + #","tool_choice":"required"}"#
            let r = try await client.post("/v1/chat/completions", body)
            #expect(r.json["choices"]?[0]?["finish_reason"]?.string == "length")
            #expect(r.json["choices"]?[0]?["message"]?["tool_calls"]?[0]?["function"]?["arguments"]?.string == #"{"city""#)
        }
    }

    @Test func toolMessagesAndAssistantCallsReachTheTemplate() async throws {
        let engine = FakeEngine(contextLength: 512)
        try await withServer(engine: engine) { client in
            let body = #"{"max_tokens":2,"messages":[{"role":"user","content":"weather?"},"#
                + #"{"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\": \"Oslo\"}"}}]},"#
                + #"{"role":"tool","tool_call_id":"call_1","content":"sunny, 21 C"}]}"#
            let r = try await client.post("/v1/chat/completions", body)
            #expect(r.status == .ok, "\(r.text)")
            let prompt = engine.counters.current.requests.first.map { engine.detokenize($0.prompt) } ?? ""
            #expect(prompt == #"<user>weather?<assistant><call>get_weather {"city":"Oslo"}</call><tool>sunny, 21 C<assistant>"#,
                    "\(prompt)")
        }
    }

    @Test func badToolMessagesAre400() async throws {
        try await withServer { client in
            func post(_ messages: String) async throws -> TestResponse {
                try await client.post("/v1/chat/completions", #"{"max_tokens":2,"messages":["# + messages + "]}")
            }
            try await post(#"{"role":"tool","content":"x"}"#)
                .expectError(.badRequest, code: "missing_required_parameter", param: "messages[0].tool_call_id")
            try await post(#"{"role":"assistant","content":null}"#)
                .expectError(.badRequest, code: "missing_required_parameter", param: "messages[0].content")
            try await post(#"{"role":"assistant","tool_calls":[{"type":"function","function":{"arguments":"{}"}}]}"#)
                .expectError(.badRequest, code: "missing_required_parameter", param: "messages[0].tool_calls[0].function.name")
            try await post(#"{"role":"assistant","tool_calls":[]}"#).expectError(.badRequest, param: "messages[0].tool_calls")
        }
    }
}
