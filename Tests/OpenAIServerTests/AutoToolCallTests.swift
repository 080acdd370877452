import Foundation
import Hummingbird
import HummingbirdTesting
import ServingTypes
import Testing

@testable import OpenAIServer

/// `tool_choice: "auto"` over HTTP: the tools reach the template, calls the model writes in its
/// family's syntax come back as `tool_calls` (streamed as OpenAI streams them), anything else as
/// content; `none` renders no tools and parses nothing.
@Suite struct AutoToolCallTests {
    static let tools = StructuredOutputTests.tools
    static let chat = #""messages":[{"role":"user","content":"weather?"}],"max_tokens":200"#
    static let qwenCall = "I will check.\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Oslo\"}}\n</tool_call>"

    func engine(_ script: [String], format: ToolCallFormat = .taggedJSON) -> FakeEngine {
        var b = FakeEngine.Behaviour()
        b.script = script
        b.toolCallFormat = format
        return FakeEngine(contextLength: 4096, behaviour: b)
    }

    /// `text` as the engine's text events: pieces of `size` characters.
    static func pieces(_ text: String, size: Int) -> [String] {
        let chars = Array(text)
        return stride(from: 0, to: chars.count, by: size).map { String(chars[$0 ..< min(chars.count, $0 + size)]) }
    }

    @Test func aWrittenCallIsReturnedAsToolCallsWithTheTextBeforeItAsContent() async throws {
        let engine = engine(Self.pieces(Self.qwenCall, size: 3))
        try await withServer(engine: engine) { client in
            let r = try await client.post("/v1/chat/completions", "{" + Self.chat + "," + Self.tools + "}")
            #expect(r.status == .ok, "\(r.text)")
            let choice = r.json["choices"]?[0]
            #expect(choice?["finish_reason"]?.string == "tool_calls", "\(r.text)")
            let message = choice?["message"]
            #expect(message?["content"]?.string == "I will check.", "\(r.text)")
            guard case .array(let calls)? = message?["tool_calls"] else { Issue.record("no tool_calls: \(r.text)"); return }
            #expect(calls.count == 1)
            #expect(calls.first?["id"]?.string?.hasPrefix("call_") == true && calls.first?["type"]?.string == "function")
            #expect(calls.first?["function"]?["name"]?.string == "get_weather")
            #expect(calls.first?["function"]?["arguments"]?.string == #"{"city":"Oslo"}"#)
        }
        // The declarations were in the prompt.
        let prompt = engine.counters.current.requests.first.map { engine.detokenize($0.prompt) } ?? ""
        #expect(prompt.hasPrefix(#"<tools>{"name":"get_weather","description":"Weather","parameters":{"type":"object""#), "\(prompt)")
        #expect(prompt.contains(#"{"name":"lookup","parameters":"#))
    }

    @Test func streamedTheCallArrivesAsOpenAIDeltas() async throws {
        for size in [1, 4, 1000] {
            let engine = engine(Self.pieces(Self.qwenCall, size: size))
            try await withServer(engine: engine) { client in
                let r = try await client.post("/v1/chat/completions", "{" + Self.chat + "," + Self.tools + #","stream":true}"#)
                #expect(r.status == .ok)
                let deltas = r.eventJSON.compactMap { $0["choices"]?[0]?["delta"] }
                #expect(deltas.first?["role"]?.string == "assistant")
                let content = deltas.compactMap { $0["content"]?.string }.joined()
                #expect(content == "I will check.", "pieces of \(size): \(r.text)")
                let calls = deltas.compactMap { d -> JSONValue? in if case .array(let c)? = d["tool_calls"] { c.first } else { nil } }
                #expect(calls.count == 2, "a first delta and an arguments delta: \(r.text)")
                #expect(calls.first?["index"]?.int == 0 && calls.first?["id"]?.string?.hasPrefix("call_") == true)
                #expect(calls.first?["type"]?.string == "function" && calls.first?["function"]?["name"]?.string == "get_weather")
                #expect(calls.first?["function"]?["arguments"]?.string == "")
                #expect(calls.last?["id"] == nil && calls.last?["function"]?["arguments"]?.string == #"{"city":"Oslo"}"#)
                #expect(r.eventJSON.last?["choices"]?[0]?["finish_reason"]?.string == "tool_calls", "\(r.text)")
                #expect(r.events.last == "[DONE]")
            }
        }
    }

    @Test func plainTextStaysContent() async throws {
        let text = "It is sunny in Oslo. <tool_cal"
        let engine = engine(Self.pieces(text, size: 2))
        try await withServer(engine: engine) { client in
            let r = try await client.post("/v1/chat/completions", "{" + Self.chat + "," + Self.tools + "}")
            #expect(r.json["choices"]?[0]?["message"]?["content"]?.string == text)
            #expect(r.json["choices"]?[0]?["message"]?["tool_calls"] == nil)
            #expect(r.json["choices"]?[0]?["finish_reason"]?.string == "stop")
            let s = try await client.post("/v1/chat/completions", "{" + Self.chat + "," + Self.tools + #","stream":true}"#)
            let deltas = s.eventJSON.compactMap { $0["choices"]?[0]?["delta"] }
            #expect(deltas.compactMap { $0["content"]?.string }.joined() == text)
            #expect(s.eventJSON.last?["choices"]?[0]?["finish_reason"]?.string == "stop")
        }
    }

    @Test func bareJSONFamiliesAnswerWithTheWholeReplyAsCalls() async throws {
        let reply = #"{"name": "get_weather", "parameters": {"city": "Oslo"}}; {"name": "lookup", "parameters": {"query": {"term": "x"}}}"#
        let engine = engine(Self.pieces(reply, size: 5), format: .bareJSON)
        try await withServer(engine: engine) { client in
            let r = try await client.post("/v1/chat/completions", "{" + Self.chat + "," + Self.tools + "}")
            let message = r.json["choices"]?[0]?["message"]
            #expect(message?["content"]?.isNull == true, "\(r.text)")
            #expect(message?["tool_calls"]?[0]?["function"]?["arguments"]?.string == #"{"city":"Oslo"}"#)
            #expect(message?["tool_calls"]?[1]?["function"]?["name"]?.string == "lookup")
            #expect(r.json["choices"]?[0]?["finish_reason"]?.string == "tool_calls")
            // One call allowed: two are text.
            let one = try await client.post("/v1/chat/completions", "{" + Self.chat + "," + Self.tools + #","parallel_tool_calls":false}"#)
            #expect(one.json["choices"]?[0]?["message"]?["content"]?.string == reply)
            #expect(one.json["choices"]?[0]?["finish_reason"]?.string == "stop")
        }
    }

    @Test func noneRendersNoToolsAndParsesNothing() async throws {
        let engine = engine([Self.qwenCall])
        try await withServer(engine: engine) { client in
            let r = try await client.post("/v1/chat/completions", "{" + Self.chat + "," + Self.tools + #","tool_choice":"none"}"#)
            #expect(r.json["choices"]?[0]?["message"]?["content"]?.string == Self.qwenCall)
            #expect(r.json["choices"]?[0]?["finish_reason"]?.string == "stop")
            // Without tools at all, the same.
            let plain = try await client.post("/v1/chat/completions", "{" + Self.chat + "}")
            #expect(plain.json["choices"]?[0]?["message"]?["content"]?.string == Self.qwenCall)
        }
        let prompts = engine.counters.current.requests.map { engine.detokenize($0.prompt) }
        #expect(prompts == ["<user>weather?<assistant>", "<user>weather?<assistant>"])
    }

    @Test func forcedChoicesRenderTheToolsToo() async throws {
        let engine = engine(["{\"city\": \"Oslo\"}"])
        try await withServer(engine: engine) { client in
            let r = try await client.post(
                "/v1/chat/completions", "{" + Self.chat + "," + Self.tools + #","tool_choice":{"type":"function","function":{"name":"get_weather"}}}"#)
            #expect(r.json["choices"]?[0]?["message"]?["tool_calls"]?[0]?["function"]?["arguments"]?.string == #"{"city": "Oslo"}"#)
        }
        let prompt = engine.counters.current.requests.first.map { engine.detokenize($0.prompt) } ?? ""
        #expect(prompt.hasPrefix("<tools>"), "\(prompt)")
    }

    @Test func cutByMaxTokensACallIsText() async throws {
        let engine = engine(Self.pieces(Self.qwenCall, size: 10))
        try await withServer(engine: engine) { client in
            let r = try await client.post(
                "/v1/chat/completions", #"{"messages":[{"role":"user","content":"w"}],"max_tokens":3,"# + Self.tools + "}")
            #expect(r.json["choices"]?[0]?["finish_reason"]?.string == "length")
            #expect(r.json["choices"]?[0]?["message"]?["content"]?.string == String(Self.qwenCall.prefix(30)))
        }
    }
}

/// The official `openai` package reads a written call (fake engine, real sockets): content and
/// one tool call from `create`, from streamed deltas, from its `.stream()` helper and `.parse()`.
@Suite(.serialized, .enabled(if: ProcessInfo.processInfo.environment["PIPESERVE_PYTHON"] != nil, "needs PIPESERVE_PYTHON"))
struct AutoToolCallLiveTests {
    @Test func theOfficialClientReadsTheCall() async throws {
        var b = FakeEngine.Behaviour()
        b.script = AutoToolCallTests.pieces(AutoToolCallTests.qwenCall, size: 4)
        let engine = FakeEngine(contextLength: 4096, behaviour: b)
        try await withServer(engine: engine, setup: .live) { client in
            let port = try #require(client.port)
            let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
                .appendingPathComponent("Python/openai_auto_tool_check.py").path
            let process = Process()
            process.executableURL = URL(fileURLWithPath: ProcessInfo.processInfo.environment["PIPESERVE_PYTHON"] ?? "")
            process.arguments = [script, "http://127.0.0.1:\(port)"]
            let output = Pipe()
            process.standardOutput = output
            process.standardError = output
            try process.run()
            // Read on another thread: the server answers on this task's executor meanwhile.
            let text = await Task.detached { String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self) }.value
            process.waitUntilExit()
            #expect(process.terminationStatus == 0, "\(text)")
        }
    }
}
