import Hummingbird
import HummingbirdTesting
import Testing

@testable import OpenAIServer

@Suite struct ChatCompletionsTests {
    @Test func nonStreamingHasOpenAIShape() async throws {
        let engine = FakeEngine()
        try await withServer(engine: engine) { client in
            let response = try await client.post(
                "/v1/chat/completions",
                #"{"model":"fake-model","messages":[{"role":"system","content":"be brief"},{"role":"user","content":"hi"}],"#
                    + #""max_tokens":3,"temperature":0}"#)
            #expect(response.status == .ok, "\(response.text)")
            let json = response.json
            #expect(json.keys?.sorted() == ["choices", "created", "id", "model", "object", "usage"])
            #expect(response.text.hasPrefix(#"{"id":"chatcmpl-"#))
            #expect(json["id"]?.string?.hasPrefix("chatcmpl-") == true)
            #expect(json["object"]?.string == "chat.completion")
            let choice = json["choices"]?[0]
            #expect(choice?["message"]?["role"]?.string == "assistant")
            #expect(choice?["message"]?["content"]?.string == "abc")
            #expect(choice?["finish_reason"]?.string == "length")
            #expect(choice?["logprobs"]?.isNull == true)
            let rendered = "<system>be brief<user>hi<assistant>"
            #expect(json["usage"]?["prompt_tokens"]?.int == rendered.unicodeScalars.count + 1)
        }
        #expect(engine.counters.current.requests.first?.prompt == engine.tokenize("<system>be brief<user>hi<assistant>", addSpecial: true))
    }

    @Test func contentPartsAndMaxCompletionTokens() async throws {
        let engine = FakeEngine()
        try await withServer(engine: engine) { client in
            let response = try await client.post(
                "/v1/chat/completions",
                #"{"messages":[{"role":"user","content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]}],"#
                    + #""max_completion_tokens":2,"max_tokens":9}"#)
            #expect(response.status == .ok, "\(response.text)")
            #expect(response.json["usage"]?["completion_tokens"]?.int == 2)
        }
        #expect(engine.counters.current.requests.first?.prompt == engine.tokenize("<user>a\nb<assistant>", addSpecial: true))
    }

    @Test func defaultMaxTokensFillsTheContext() async throws {
        let engine = FakeEngine(contextLength: 40)
        try await withServer(engine: engine) { client in
            let response = try await client.post("/v1/chat/completions", #"{"messages":[{"role":"user","content":"hi"}]}"#)
            #expect(response.status == .ok, "\(response.text)")
        }
        // "<user>hi<assistant>" is 19 scalars + BOS.
        #expect(engine.counters.current.requests.first?.stop.maxTokens == 40 - 20)
    }

    @Test func logprobsUseTheChatShape() async throws {
        try await withServer { client in
            let response = try await client.post(
                "/v1/chat/completions",
                #"{"messages":[{"role":"user","content":"hi"}],"max_tokens":2,"logprobs":true,"top_logprobs":2,"temperature":0}"#)
            let content = try #require(response.json["choices"]?[0]?["logprobs"]?["content"]?.array)
            #expect(content.count == 2)
            #expect(content[0].keys?.sorted() == ["bytes", "logprob", "token", "top_logprobs"])
            #expect(content[0]["token"]?.string == "a")
            #expect(content[0]["bytes"]?.array?.map(\.int) == [97])
            #expect(content[1]["logprob"]?.double == -1)
            #expect(content[1]["top_logprobs"]?.array?.count == 2)
            #expect(content[1]["top_logprobs"]?[1]?["token"]?.string == "c")
        }
    }

    @Test func streamingStartsWithRoleAndEndsWithUsageAndDone() async throws {
        try await withServer { client in
            let response = try await client.post(
                "/v1/chat/completions",
                #"{"messages":[{"role":"user","content":"hi"}],"max_tokens":3,"stream":true,"#
                    + #""stream_options":{"include_usage":true},"temperature":0}"#)
            #expect(response.status == .ok)
            #expect(response.headers[.contentType] == "text/event-stream")
            #expect(response.events.last == "[DONE]")
            let chunks = response.eventJSON
            #expect(chunks.allSatisfy { $0["object"]?.string == "chat.completion.chunk" })
            let first = try #require(chunks.first?["choices"]?[0])
            #expect(first["delta"]?["role"]?.string == "assistant")
            #expect(first["finish_reason"]?.isNull == true)
            let content = chunks.dropFirst().compactMap { $0["choices"]?[0]?["delta"]?["content"]?.string }.joined()
            #expect(content == "abc")
            let finish = chunks[chunks.count - 2]["choices"]?[0]
            #expect(finish?["finish_reason"]?.string == "length")
            #expect(finish?["delta"]?.keys == [])
            #expect(chunks.last?["choices"]?.array?.isEmpty == true)
            #expect(chunks.last?["usage"]?["completion_tokens"]?.int == 3)
            #expect(chunks.dropLast().allSatisfy { $0["usage"]?.isNull == true })
        }
    }

    @Test func streamingWithoutUsageOmitsTheUsageChunk() async throws {
        try await withServer { client in
            let response = try await client.post(
                "/v1/chat/completions", #"{"messages":[{"role":"user","content":"hi"}],"max_tokens":2,"stream":true}"#)
            let chunks = response.eventJSON
            #expect(chunks.count == 4)  // role, 2 content, finish
            #expect(chunks.allSatisfy { $0.keys?.contains("usage") == false })
        }
    }
}
