import Hummingbird
import HummingbirdTesting
import Logging
import Testing

@testable import OpenAIServer

/// One test per error class of the API (status, OpenAI error object, param).
@Suite struct ErrorTests {
    @Test func invalidJSONIs400() async throws {
        try await withServer { client in
            try await client.post("/v1/completions", #"{"prompt": "#).expectError(.badRequest, code: "invalid_json")
            try await client.post("/v1/completions", #"["prompt"]"#).expectError(.badRequest)
        }
    }

    @Test func wrongTypesAre400NamingTheField() async throws {
        try await withServer { client in
            try await client.post("/v1/completions", #"{"prompt":"x","temperature":"hot"}"#)
                .expectError(.badRequest, code: "invalid_type", param: "temperature")
            try await client.post("/v1/completions", #"{"prompt":"x","max_tokens":2.5}"#)
                .expectError(.badRequest, param: "max_tokens")
            try await client.post("/v1/completions", #"{"prompt":{"a":1}}"#).expectError(.badRequest, param: "prompt")
            try await client.post("/v1/completions", #"{"prompt":[1,"a"]}"#).expectError(.badRequest, param: "prompt")
            try await client.post("/v1/completions", #"{"prompt":"x","stream":"yes"}"#).expectError(.badRequest, param: "stream")
            try await client.post("/v1/completions", #"{"prompt":"x","stop":[1]}"#).expectError(.badRequest, param: "stop")
            try await client.post("/v1/chat/completions", #"{"messages":"hi"}"#).expectError(.badRequest, param: "messages")
            try await client.post("/v1/chat/completions", #"{"messages":[{"role":"robot","content":"x"}]}"#)
                .expectError(.badRequest, param: "messages[0].role")
        }
    }

    @Test func outOfRangeValuesAre400() async throws {
        let cases: [(String, String)] = [
            (#""temperature":2.5"#, "temperature"), (#""temperature":-0.1"#, "temperature"),
            (#""top_p":0"#, "top_p"), (#""top_p":1.5"#, "top_p"),
            (#""max_tokens":0"#, "max_tokens"), (#""max_tokens":100000"#, "max_tokens"),
            (#""n":0"#, "n"), (#""n":9"#, "n"),
            (#""logprobs":6"#, "logprobs"), (#""logprobs":-1"#, "logprobs"),
            (#""stop":["a","b","c","d","e"]"#, "stop"),
            (#""presence_penalty":3"#, "presence_penalty"), (#""min_p":2"#, "min_p"),
        ]
        try await withServer { client in
            for (field, param) in cases {
                try await client.post("/v1/completions", #"{"prompt":"x","# + field + "}")
                    .expectError(.badRequest, param: param)
            }
            try await client.post("/v1/chat/completions", #"{"messages":[{"role":"user","content":"x"}],"top_logprobs":6,"logprobs":true}"#)
                .expectError(.badRequest, param: "top_logprobs")
        }
    }

    @Test func promptBeyondContextNamesLengthAndLimit() async throws {
        try await withServer(engine: FakeEngine(contextLength: 20)) { client in
            let error = try await client.post("/v1/completions", #"{"prompt":"0123456789","max_tokens":10}"#)
                .expectError(.badRequest, code: "context_length_exceeded", param: "max_tokens")
            let message = error["message"]?.string ?? ""
            #expect(message.contains("maximum context length is 20 tokens"), "\(message)")
            #expect(message.contains("(11 in the prompt, 10 for the completion)"), "\(message)")
            let chat = try await client.post("/v1/chat/completions", #"{"messages":[{"role":"user","content":"0123456789"}]}"#)
            chat.expectError(.badRequest, code: "context_length_exceeded")
        }
    }

    @Test func emptyPromptAndMessagesAre400() async throws {
        try await withServer { client in
            try await client.post("/v1/completions", #"{"prompt":""}"#).expectError(.badRequest, param: "prompt")
            try await client.post("/v1/completions", #"{"prompt":[]}"#).expectError(.badRequest, param: "prompt")
            try await client.post("/v1/completions", #"{"prompt":["a",""]}"#).expectError(.badRequest, param: "prompt[1]")
            try await client.post("/v1/completions", #"{"max_tokens":3}"#).expectError(.badRequest, param: "prompt")
            try await client.post("/v1/chat/completions", #"{"messages":[]}"#).expectError(.badRequest, param: "messages")
        }
    }

    @Test func unknownAndUnsupportedFieldsAre400NamingTheField() async throws {
        try await withServer { client in
            try await client.post("/v1/completions", #"{"prompt":"x","max_token":3}"#)
                .expectError(.badRequest, code: "unrecognized_argument", param: "max_token")
            try await client.post("/v1/completions", #"{"prompt":"x","best_of":2}"#)
                .expectError(.badRequest, code: "unsupported_parameter", param: "best_of")
            try await client.post("/v1/completions", #"{"prompt":"x","suffix":"end"}"#)
                .expectError(.badRequest, param: "suffix")
            try await client.post("/v1/completions", #"{"prompt":"x","logit_bias":{"50256":-100}}"#)
                .expectError(.badRequest, param: "logit_bias")
            try await client.post("/v1/chat/completions", #"{"messages":[{"role":"user","content":"x"}],"tools":[{"type":"function"}]}"#)
                .expectError(.badRequest, param: "tools[0].function")
            try await client.post(
                "/v1/chat/completions", #"{"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"x"}}]}]}"#
            ).expectError(.badRequest, code: "unsupported_content_type", param: "messages[0].content[0].type")
            // Defaults of unsupported fields are accepted (clients send them).
            let ok = try await client.post("/v1/completions", #"{"prompt":"x","max_tokens":1,"best_of":1,"suffix":null,"logit_bias":{}}"#)
            #expect(ok.status == .ok, "\(ok.text)")
        }
    }

    @Test func templateRejectionIs400() async throws {
        try await withServer { client in
            try await client.post("/v1/chat/completions", #"{"messages":[{"role":"user","content":"{{unrenderable}}"}]}"#)
                .expectError(.badRequest, param: "messages")
        }
    }

    @Test func missingOrWrongAPIKeyIs401() async throws {
        let configuration = OpenAIServerConfiguration(port: 0, apiKeys: ["s3cret-key"])
        try await withServer(configuration: configuration) { client in
            let body = #"{"prompt":"x","max_tokens":1}"#
            let missing = try await client.post("/v1/completions", body)
            let error = missing.expectError(.unauthorized, code: "invalid_api_key")
            #expect(missing.headers[.wwwAuthenticate] == "Bearer")
            let message = error["message"]?.string ?? ""
            #expect(!message.contains("s3cret"))
            let wrong = try await client.post("/v1/completions", body, headers: [.authorization: "Bearer s3cret-kez"])
            let wrongError = wrong.expectError(.unauthorized, code: "invalid_api_key")
            #expect(!wrong.text.contains("s3cret"), "\(wrongError)")
            try await client.post("/v1/completions", body, headers: [.authorization: "Bearer s3cret"]).expectError(.unauthorized)
            try await client.get("/v1/models", headers: [.authorization: "Basic s3cret-key"]).expectError(.unauthorized)
            let right = try await client.post("/v1/completions", body, headers: [.authorization: "Bearer s3cret-key"])
            #expect(right.status == .ok)
            // Probes and scrapes stay open.
            #expect(try await client.get("/health").status == .ok)
            #expect(try await client.get("/metrics").status == .ok)
        }
        #expect(APIMiddleware<BasicRequestContext>.constantTimeEquals(Array("abc".utf8), Array("abc".utf8)))
        #expect(!APIMiddleware<BasicRequestContext>.constantTimeEquals(Array("abd".utf8), Array("abc".utf8)))
        #expect(!APIMiddleware<BasicRequestContext>.constantTimeEquals(Array("abcd".utf8), Array("abc".utf8)))
        #expect(!APIMiddleware<BasicRequestContext>.constantTimeEquals([], Array("abc".utf8)))
    }

    @Test func unknownRouteIs404() async throws {
        try await withServer { client in
            try await client.get("/v1/engines").expectError(.notFound, code: "unknown_url")
            try await client.post("/v2/completions", "{}").expectError(.notFound, code: "unknown_url")
        }
    }

    @Test func otherModelIs404ModelNotFound() async throws {
        let engine = FakeEngine()
        try await withServer(engine: engine) { client in
            try await client.post("/v1/completions", #"{"model":"gpt-4","prompt":"x"}"#)
                .expectError(.notFound, code: "model_not_found", param: "model")
            try await client.post("/v1/chat/completions", #"{"model":"gpt-4","messages":[{"role":"user","content":"x"}]}"#)
                .expectError(.notFound, code: "model_not_found")
        }
        #expect(engine.counters.current.started == 0)
    }

    @Test func wrongMethodOnKnownRouteIs405() async throws {
        try await withServer { client in
            let response = try await client.get("/v1/completions")
            response.expectError(.methodNotAllowed, code: "method_not_allowed")
            #expect(response.headers[.allow] == "POST")
            let models = try await client.post("/v1/models", "{}")
            models.expectError(.methodNotAllowed)
            #expect(models.headers[.allow] == "GET")
            try await client.executeRequest(uri: "/health", method: .delete, headers: [:], body: nil)
                .expectError(.methodNotAllowed)
        }
    }

    @Test func bodyOverTheLimitIs413() async throws {
        let configuration = OpenAIServerConfiguration(port: 0, maxBodyBytes: 64)
        let engine = FakeEngine()
        try await withServer(engine: engine, configuration: configuration) { client in
            let big = #"{"prompt":""# + String(repeating: "x", count: 200) + #""}"#
            try await client.post("/v1/completions", big).expectError(.contentTooLarge, code: "request_too_large")
            let small = try await client.post("/v1/completions", #"{"prompt":"x","max_tokens":1}"#)
            #expect(small.status == .ok)
        }
        #expect(engine.counters.current.started == 1)
    }

    @Test func queueFullIs503WithRetryAfter() async throws {
        let engine = FakeEngine(behaviour: .init(startError: .queueFull(retryAfterSeconds: 7)))
        try await withServer(engine: engine) { client in
            let response = try await client.post("/v1/completions", #"{"prompt":"x"}"#)
            response.expectError(.serviceUnavailable, code: "queue_full")
            #expect(response.headers[.retryAfter] == "7")
        }
    }

    @Test func notReadyIs503WithRetryAfter() async throws {
        let engine = FakeEngine(behaviour: .init(health: .loading("starting stages")))
        try await withServer(engine: engine) { client in
            let response = try await client.post("/v1/chat/completions", #"{"messages":[{"role":"user","content":"x"}]}"#)
            response.expectError(.serviceUnavailable, code: "not_ready")
            #expect(response.headers[.retryAfter] == "5")
        }
    }

    @Test func errorBeforeStreamingIsAPlainJSONResponse() async throws {
        let engine = FakeEngine(behaviour: .init(startError: .queueFull(retryAfterSeconds: 2)))
        try await withServer(engine: engine) { client in
            let response = try await client.post("/v1/completions", #"{"prompt":"x","stream":true}"#)
            response.expectError(.serviceUnavailable, code: "queue_full")
            #expect(!response.text.hasPrefix("data:"))
            try await client.post("/v1/chat/completions", #"{"messages":[],"stream":true}"#).expectError(.badRequest)
        }
    }

    @Test func engineFailureMidStreamEndsWithAnErrorEventAndDone() async throws {
        let engine = FakeEngine(behaviour: .init(failAfterTokens: 2))
        try await withServer(engine: engine) { client in
            let response = try await client.post("/v1/completions", #"{"prompt":"x","max_tokens":5,"stream":true,"temperature":0}"#)
            #expect(response.status == .ok)
            #expect(response.events.last == "[DONE]")
            let last = try #require(response.eventJSON.last)
            #expect(last["error"]?["type"]?.string == "server_error")
            #expect(last["error"]?["code"]?.string == "internal_error")
            let text = response.eventJSON.compactMap { $0["choices"]?[0]?["text"]?.string }.joined()
            #expect(text == "ab")
            // Non-streaming: 500 with the error object.
            try await client.post("/v1/completions", #"{"prompt":"x","max_tokens":5}"#).expectError(.internalServerError)
        }
    }

    @Test func timeoutIs504AndCancelsTheSequences() async throws {
        let engine = FakeEngine(behaviour: .init(tokenDelay: .milliseconds(50)))
        let configuration = OpenAIServerConfiguration(port: 0, requestTimeoutSeconds: 0.2)
        try await withServer(engine: engine, configuration: configuration) { client in
            try await client.post("/v1/completions", #"{"prompt":"x","max_tokens":50,"n":2}"#).expectError(.gatewayTimeout, code: "timeout")
        }
        try await waitUntil { engine.counters.current.cancelled == 2 }
        #expect(engine.counters.current.finished == 0)
    }
}

/// Polls `condition` for up to `seconds`; fails the test if it never holds.
func waitUntil(
    seconds: Double = 30, sourceLocation: SourceLocation = #_sourceLocation, _ condition: @Sendable () -> Bool
) async throws {
    let deadline = ContinuousClock.now + .seconds(seconds)
    while !condition() {
        guard ContinuousClock.now < deadline else {
            Issue.record("condition not met within \(seconds) s", sourceLocation: sourceLocation)
            return
        }
        try await Task.sleep(for: .milliseconds(10))
    }
}

@Suite struct BodyLimitTests {
    /// Without Content-Length (chunked upload) the limit applies while the body is read: the
    /// reader stops at the chunk that crosses it and never asks for the rest.
    @Test func chunkedBodyIsRejectedWhileBeingRead() async throws {
        let pulled = Locked(0)
        let chunks = AsyncStream<ByteBuffer> { continuation in
            for _ in 0..<10 { continuation.yield(ByteBuffer(string: String(repeating: "x", count: 40))) }
            continuation.finish()
        }.map { buffer -> ByteBuffer in
            pulled.withLock { $0 += 1 }
            return buffer
        }
        let request = Request(
            head: HTTPRequest(method: .post, scheme: "http", authority: "localhost", path: "/v1/completions", headerFields: [.contentType: "application/json"]),
            body: RequestBody(asyncSequence: chunks))
        let handlers = Handlers(
            engine: FakeEngine(), configuration: OpenAIServerConfiguration(maxBodyBytes: 64),
            metrics: OpenAIServerMetrics(), logger: Logger(label: "test"))
        await #expect {
            _ = try await handlers.readJSON(request)
        } throws: { error in
            (error as? APIError)?.status == .contentTooLarge
        }
        #expect(pulled.current == 2)
    }
}

/// A body that arrives too slowly (or stalls) is cut off at the request timeout with 408, so a
/// slow client cannot hold a connection and a task for ever.
@Suite struct SlowBodyTests {
    func handlers(timeout: Double?) -> Handlers {
        Handlers(
            engine: FakeEngine(), configuration: OpenAIServerConfiguration(requestTimeoutSeconds: timeout),
            metrics: OpenAIServerMetrics(), logger: Logger(label: "test"))
    }

    /// One chunk, then nothing: a stalled upload.
    func stalledRequest() -> Request {
        let (chunks, continuation) = AsyncStream<ByteBuffer>.makeStream()
        continuation.yield(ByteBuffer(string: #"{"prompt":"#))
        return Request(
            head: HTTPRequest(method: .post, scheme: "http", authority: "localhost", path: "/v1/completions", headerFields: [.contentType: "application/json"]),
            body: RequestBody(asyncSequence: chunks))
    }

    @Test func stalledBodyIs408AtTheRequestTimeout() async throws {
        let closed = Locked(0)
        let started = ContinuousClock.now
        await #expect {
            _ = try await handlers(timeout: 0.3).readJSON(
                stalledRequest(), startedAt: started, onBodyTimeout: { closed.withLock { $0 += 1 } })
        } throws: { error in
            let e = error as? APIError
            return e?.status == .requestTimeout && e?.code == "request_timeout" && e?.headers[.connection] == "close"
        }
        let elapsed = ContinuousClock.now - started
        #expect(elapsed >= .milliseconds(300) && elapsed < .seconds(20), "\(elapsed)")
        #expect(closed.current == 1)
    }

    @Test func theTimeoutCountsFromTheStartOfTheRequest() async throws {
        // Time already spent (e.g. on headers) counts: a deadline in the past fires at once.
        let started = ContinuousClock.now - .seconds(60)
        let clock = ContinuousClock.now
        await #expect(throws: APIError.self) {
            _ = try await handlers(timeout: 30).readJSON(stalledRequest(), startedAt: started)
        }
        #expect(ContinuousClock.now - clock < .seconds(20))
    }

    @Test func aPromptBodyWithinTheTimeoutIsRead() async throws {
        let request = Request(
            head: HTTPRequest(method: .post, scheme: "http", authority: "localhost", path: "/v1/completions", headerFields: [.contentType: "application/json"]),
            body: RequestBody(buffer: ByteBuffer(string: #"{"prompt":"x"}"#)))
        let json = try await handlers(timeout: 5).readJSON(request, onBodyTimeout: { Issue.record("timed out") })
        #expect(json["prompt"]?.string == "x")
        // Without a request timeout there is no deadline either.
        let untimed = Request(
            head: HTTPRequest(method: .post, scheme: "http", authority: "localhost", path: "/v1/completions", headerFields: [.contentType: "application/json"]),
            body: RequestBody(buffer: ByteBuffer(string: #"{"prompt":"y"}"#)))
        #expect(try await handlers(timeout: nil).readJSON(untimed)["prompt"]?.string == "y")
    }

    /// Found by scripts/fuzz-http: a bad chunk size or a body cut short by EOF made the HTTP
    /// parser throw inside the body, which came out as 500.
    @Test func aBodyTheParserRejectsIs400NotA500() async throws {
        struct ParserSaysNo: Error {}
        for timeout in [5.0, nil] {
            let chunks = AsyncThrowingStream<ByteBuffer, any Error> { continuation in
                continuation.yield(ByteBuffer(string: #"{"prompt":"#))
                continuation.finish(throwing: ParserSaysNo())
            }
            let request = Request(
                head: HTTPRequest(method: .post, scheme: "http", authority: "localhost", path: "/v1/completions", headerFields: [.contentType: "application/json"]),
                body: RequestBody(asyncSequence: chunks))
            do {
                _ = try await handlers(timeout: timeout).readJSON(request)
                Issue.record("no error")
            } catch {
                let mapped = APIError.map(error, request: request, notReadyRetryAfterSeconds: 1, maxBodyBytes: 1)
                #expect(mapped.status == .badRequest && mapped.code == "invalid_body", "\(error)")
            }
        }
    }

    @Test func idleConnectionTimeoutFollowsTheRequestTimeout() {
        #expect(OpenAIServerConfiguration(requestTimeoutSeconds: 5).connectionIdleTimeoutSeconds == 5)
        #expect(OpenAIServerConfiguration(requestTimeoutSeconds: 600).connectionIdleTimeoutSeconds == 60)
        #expect(OpenAIServerConfiguration(requestTimeoutSeconds: nil).connectionIdleTimeoutSeconds == 60)
    }
}
