import Hummingbird
import HummingbirdTesting
import Testing

@testable import OpenAIServer

@Suite struct CompletionsTests {
    @Test func stringPromptHasOpenAIShape() async throws {
        try await withServer { client in
            let response = try await client.post(
                "/v1/completions", #"{"model":"fake-model","prompt":"hello","max_tokens":4,"temperature":0}"#)
            #expect(response.status == .ok)
            #expect(response.headers[.contentType] == "application/json")
            let json = response.json
            #expect(json.keys?.sorted() == ["choices", "created", "id", "model", "object", "usage"])
            #expect(response.text.hasPrefix(#"{"id":"cmpl-"#))  // OpenAI's key order
            #expect(json["id"]?.string?.hasPrefix("cmpl-") == true)
            #expect(json["object"]?.string == "text_completion")
            #expect((json["created"]?.int ?? 0) > 1_700_000_000)
            #expect(json["model"]?.string == "fake-model")
            let choice = json["choices"]?[0]
            #expect(choice?.keys?.sorted() == ["finish_reason", "index", "logprobs", "text"])
            #expect(choice?["text"]?.string == "abcd")
            #expect(choice?["index"]?.int == 0)
            #expect(choice?["logprobs"]?.isNull == true)
            #expect(choice?["finish_reason"]?.string == "length")
            // "hello" is 5 tokens + BOS.
            #expect(json["usage"]?["prompt_tokens"]?.int == 6)
            #expect(json["usage"]?["completion_tokens"]?.int == 4)
            #expect(json["usage"]?["total_tokens"]?.int == 10)
            #expect(json["usage"]?["prompt_tokens_details"]?["cached_tokens"]?.int == 0)
        }
    }

    @Test func defaultMaxTokensIs16AndSamplingFieldsReachTheEngine() async throws {
        let engine = FakeEngine()
        try await withServer(engine: engine) { client in
            let response = try await client.post(
                "/v1/completions",
                #"{"prompt":"hi","temperature":0.5,"top_p":0.9,"top_k":40,"min_p":0.05,"seed":7,"#
                    + #""presence_penalty":0.5,"frequency_penalty":-0.5,"repetition_penalty":1.1,"user":"u1"}"#)
            #expect(response.status == .ok, "\(response.text)")
            #expect(response.json["usage"]?["completion_tokens"]?.int == 16)
        }
        let request = try #require(engine.counters.current.requests.first)
        #expect(request.stop.maxTokens == 16)
        #expect(request.sampling.temperature == 0.5)
        #expect(request.sampling.topP == 0.9)
        #expect(request.sampling.topK == 40)
        #expect(request.sampling.minP == 0.05)
        #expect(request.sampling.seed == 7)
        #expect(request.sampling.presencePenalty == 0.5)
        #expect(request.sampling.frequencyPenalty == -0.5)
        #expect(request.sampling.repetitionPenalty == 1.1)
        #expect(request.prompt == [1, 104, 105])
    }

    @Test func listOfStringsWithNTwoIsPromptMajorAndChoicesDiffer() async throws {
        let engine = FakeEngine()
        try await withServer(engine: engine) { client in
            let response = try await client.post(
                "/v1/completions", #"{"prompt":["hi","yo!"],"n":2,"max_tokens":3,"temperature":1,"seed":0}"#)
            #expect(response.status == .ok, "\(response.text)")
            let choices = response.json["choices"]?.array ?? []
            #expect(choices.count == 4)
            #expect(choices.map { $0["index"]?.int } == [0, 1, 2, 3])
            // seed + choice index: choice i starts at letter i.
            #expect(choices.map { $0["text"]?.string } == ["abc", "bcd", "cde", "def"])
            #expect(response.json["usage"]?["prompt_tokens"]?.int == 3 + 4)  // once per prompt
            #expect(response.json["usage"]?["completion_tokens"]?.int == 12)
        }
        let prompts = engine.counters.current.requests.sorted { $0.sampling.seed < $1.sampling.seed }.map(\.prompt)
        #expect(prompts == [[1, 104, 105], [1, 104, 105], [1, 121, 111, 33], [1, 121, 111, 33]])
    }

    @Test func tokenIDPrompts() async throws {
        let engine = FakeEngine()
        try await withServer(engine: engine) { client in
            let single = try await client.post("/v1/completions", #"{"prompt":[1,104,105],"max_tokens":2,"temperature":0}"#)
            #expect(single.status == .ok, "\(single.text)")
            #expect(single.json["choices"]?.array?.count == 1)
            #expect(single.json["usage"]?["prompt_tokens"]?.int == 3)
            let many = try await client.post("/v1/completions", #"{"prompt":[[1,104],[1,121,111]],"max_tokens":2,"temperature":0}"#)
            #expect(many.status == .ok, "\(many.text)")
            #expect(many.json["choices"]?.array?.count == 2)
            #expect(many.json["usage"]?["prompt_tokens"]?.int == 5)
        }
        let prompts = Set(engine.counters.current.requests.map(\.prompt))
        #expect(prompts == [[1, 104, 105], [1, 104], [1, 121, 111]])
    }

    @Test func echoPrependsThePrompt() async throws {
        try await withServer { client in
            let text = try await client.post("/v1/completions", #"{"prompt":"hey ","max_tokens":2,"echo":true,"temperature":0}"#)
            #expect(text.json["choices"]?[0]?["text"]?.string == "hey ab")
            let ids = try await client.post("/v1/completions", #"{"prompt":[1,104,105],"max_tokens":2,"echo":true,"temperature":0}"#)
            #expect(ids.json["choices"]?[0]?["text"]?.string == "hiab")
        }
    }

    @Test func logprobsUseTheLegacyShape() async throws {
        try await withServer { client in
            let response = try await client.post(
                "/v1/completions", #"{"prompt":"x","max_tokens":2,"logprobs":2,"temperature":0}"#)
            #expect(response.status == .ok, "\(response.text)")
            let logprobs = try #require(response.json["choices"]?[0]?["logprobs"])
            #expect(logprobs.keys?.sorted() == ["text_offset", "token_logprobs", "tokens", "top_logprobs"])
            #expect(logprobs["tokens"]?.array?.map(\.string) == ["a", "b"])
            #expect(logprobs["token_logprobs"]?.array?.map(\.double) == [-0.5, -1.0])
            #expect(logprobs["top_logprobs"]?[0]?.keys == ["a", "b"])
            #expect(logprobs["top_logprobs"]?[1]?["c"]?.double == -2.0)
            #expect(logprobs["text_offset"]?.array?.map(\.int) == [0, 1])
        }
    }

    @Test func echoWithLogprobsIncludesThePromptTokens() async throws {
        let engine = FakeEngine()
        try await withServer(engine: engine) { client in
            let response = try await client.post(
                "/v1/completions", #"{"prompt":"hi","max_tokens":1,"logprobs":0,"echo":true,"temperature":0}"#)
            #expect(response.status == .ok, "\(response.text)")
            let logprobs = try #require(response.json["choices"]?[0]?["logprobs"])
            #expect(logprobs["tokens"]?.array?.map(\.string) == ["<s>", "h", "i", "a"])
            #expect(logprobs["token_logprobs"]?[0]?.isNull == true)
            #expect(logprobs["token_logprobs"]?[1]?.double == -1)
            #expect(logprobs["top_logprobs"]?[0]?.isNull == true)
            #expect(logprobs["text_offset"]?.array?.map(\.int) == [0, 3, 4, 5])
        }
        #expect(engine.counters.current.requests.first?.echoPromptLogprobs == true)
    }

    @Test func stopStringEndsTheCompletion() async throws {
        let engine = FakeEngine()
        try await withServer(engine: engine) { client in
            let single = try await client.post("/v1/completions", #"{"prompt":"x","max_tokens":10,"stop":"cd","temperature":0}"#)
            #expect(single.json["choices"]?[0]?["text"]?.string == "ab")
            #expect(single.json["choices"]?[0]?["finish_reason"]?.string == "stop")
            let list = try await client.post("/v1/completions", #"{"prompt":"x","max_tokens":10,"stop":["zz","e"],"temperature":0}"#)
            #expect(list.json["choices"]?[0]?["text"]?.string == "abcd")
        }
        #expect(engine.counters.current.requests.last?.stop.stopStrings == ["zz", "e"])
    }

    @Test func streamingSendsChunksUsageAndDone() async throws {
        try await withServer { client in
            let response = try await client.post(
                "/v1/completions",
                #"{"prompt":"x","max_tokens":3,"stream":true,"stream_options":{"include_usage":true},"temperature":0}"#)
            #expect(response.status == .ok)
            #expect(response.headers[.contentType] == "text/event-stream")
            #expect(response.events.last == "[DONE]")
            let chunks = response.eventJSON
            #expect(chunks.count == 5)  // 3 text chunks, the finish chunk, the usage chunk
            let textChunks = chunks.dropLast()
            #expect(textChunks.allSatisfy { $0["object"]?.string == "text_completion" })
            #expect(Set(chunks.compactMap { $0["id"]?.string }).count == 1)
            #expect(textChunks.compactMap { $0["choices"]?[0]?["text"]?.string }.joined() == "abc")
            #expect(textChunks.allSatisfy { $0["usage"]?.isNull == true })
            #expect(textChunks.last?["choices"]?[0]?["finish_reason"]?.string == "length")
            #expect(textChunks.first?["choices"]?[0]?["finish_reason"]?.isNull == true)
            let usage = try #require(chunks.last)
            #expect(usage["choices"]?.array?.isEmpty == true)
            #expect(usage["usage"]?["completion_tokens"]?.int == 3)
            #expect(usage["usage"]?["prompt_tokens"]?.int == 2)
        }
    }

    @Test func streamingWithNTwoInterleavesChoices() async throws {
        try await withServer(engine: FakeEngine(behaviour: .init(tokenDelay: .milliseconds(2)))) { client in
            let response = try await client.post(
                "/v1/completions", #"{"prompt":"x","n":2,"max_tokens":4,"stream":true,"temperature":1,"seed":0}"#)
            let chunks = response.eventJSON
            #expect(chunks.first?.keys?.contains("usage") == false)
            var texts = ["", ""]
            var finishes = 0
            for chunk in chunks {
                let choice = chunk["choices"]?[0]
                let index = choice?["index"]?.int ?? -1
                texts[index] += choice?["text"]?.string ?? ""
                if choice?["finish_reason"]?.string != nil { finishes += 1 }
            }
            #expect(texts == ["abcd", "bcde"])
            #expect(finishes == 2)
            #expect(response.events.last == "[DONE]")
        }
    }

    @Test func streamingEchoAndLogprobs() async throws {
        try await withServer { client in
            let response = try await client.post(
                "/v1/completions", #"{"prompt":"hi","max_tokens":2,"stream":true,"echo":true,"logprobs":1,"temperature":0}"#)
            let chunks = response.eventJSON
            let texts = chunks.compactMap { $0["choices"]?[0]?["text"]?.string }
            #expect(texts.first == "hi")
            #expect(texts.joined() == "hiab")
            let tokens = chunks.flatMap { $0["choices"]?[0]?["logprobs"]?["tokens"]?.array ?? [] }.map(\.string)
            #expect(tokens == ["<s>", "h", "i", "a", "b"])
            let offsets = chunks.flatMap { $0["choices"]?[0]?["logprobs"]?["text_offset"]?.array ?? [] }.map(\.int)
            #expect(offsets == [0, 3, 4, 5, 6])
        }
    }
}
