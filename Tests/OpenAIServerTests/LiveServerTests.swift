import Hummingbird
import HummingbirdTesting
import Logging
import Testing

@testable import OpenAIServer

/// Tests over real sockets: port reporting, client disconnects, concurrency.
@Suite(.serialized) struct LiveServerTests {
    @Test func portZeroReportsTheBoundPort() async throws {
        let reported = Locked<Int?>(nil)
        let app = makeApplication(
            engine: FakeEngine(), configuration: OpenAIServerConfiguration(host: "127.0.0.1", port: 0),
            logger: Logger(label: "test"), onServerRunning: { port in reported.withLock { $0 = port } })
        let task = Task { try await app.run() }
        try await waitUntil { reported.current != nil }
        let port = try #require(reported.current)
        #expect(port > 0)
        let status = try await TestClient.withClient(host: "127.0.0.1", port: port) { client in
            try await client.get("/health").head.status
        }
        #expect(status == .ok)
        task.cancel()
        _ = await task.result
    }

    @Test(arguments: [
        ("/v1/completions", #"{"prompt":"x","max_tokens":1000,"stream":true}"#),
        ("/v1/chat/completions", #"{"messages":[{"role":"user","content":"x"}],"max_tokens":1000,"stream":true}"#),
        // Not streaming: nothing is written until the end, so only the closed connection (the
        // client's FIN, which the server sees as its input closing) can tell; it used to generate
        // on to max_tokens (here ~10 s) and pin a running slot.
        ("/v1/completions", #"{"prompt":"x","max_tokens":1000}"#),
        ("/v1/chat/completions", #"{"messages":[{"role":"user","content":"x"}],"max_tokens":1000}"#),
    ])
    func clientDisconnectMidStreamCancelsTheSequence(path: String, body: String) async throws {
        let engine = FakeEngine(contextLength: 4096, behaviour: .init(tokenDelay: .milliseconds(10)))
        try await withServer(engine: engine, setup: .live) { client in
            let port = try #require(client.port)
            let raw = TestClient(host: "localhost", port: port)
            raw.connect()
            try await raw.executeAndDontWaitForResponse(
                TestClient.Request(
                    path, method: .post, authority: "localhost", headers: [.contentType: "application/json"],
                    body: ByteBuffer(string: body)))
            try await waitUntil { engine.counters.current.started == 1 }
            try await Task.sleep(for: .milliseconds(100))
            try await raw.shutdown()
            try await waitUntil(seconds: 5) { engine.counters.current.cancelled == 1 }
            #expect(engine.counters.current.finished == 0)
        }
    }

    /// No token arrives, so only the keep-alive comment can notice that the client left.
    @Test(.timeLimit(.minutes(1))) func clientDisconnectBeforeTheFirstTokenCancelsTheSequence() async throws {
        let body = #"{"prompt":"x","max_tokens":1000,"stream":true}"#
        let engine = FakeEngine(contextLength: 4096, behaviour: .init(tokenDelay: .seconds(30)))
        let configuration = OpenAIServerConfiguration(port: 0, streamKeepAliveSeconds: 0.05)
        try await withServer(engine: engine, configuration: configuration, setup: .live) { client in
            let port = try #require(client.port)
            let raw = TestClient(host: "localhost", port: port)
            raw.connect()
            try await raw.executeAndDontWaitForResponse(
                TestClient.Request(
                    "/v1/completions", method: .post, authority: "localhost", headers: [.contentType: "application/json"],
                    body: ByteBuffer(string: body)))
            try await waitUntil { engine.counters.current.started == 1 }
            try await raw.shutdown()
            try await waitUntil { engine.counters.current.cancelled == 1 }
        }
    }

    @Test func thirtyTwoConcurrentRequestsAreAllAnsweredCorrectly() async throws {
        let engine = FakeEngine(behaviour: .init(tokenDelay: .milliseconds(2)))
        try await withServer(engine: engine, setup: .ahc(.http)) { client in
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<32 {
                    group.addTask {
                        let expected = String((0..<5).map { Character(UnicodeScalar(UInt8(97 + (index + $0) % 26))) })
                        switch index % 3 {
                        case 0:
                            let response = try await client.post(
                                "/v1/completions", #"{"prompt":"p\#(index)","max_tokens":5,"temperature":1,"seed":\#(index)}"#)
                            #expect(response.json["choices"]?[0]?["text"]?.string == expected, "request \(index)")
                        case 1:
                            let response = try await client.post(
                                "/v1/chat/completions",
                                #"{"messages":[{"role":"user","content":"p\#(index)"}],"max_tokens":5,"temperature":1,"seed":\#(index)}"#)
                            #expect(response.json["choices"]?[0]?["message"]?["content"]?.string == expected, "request \(index)")
                        default:
                            let response = try await client.post(
                                "/v1/completions",
                                #"{"prompt":"p\#(index)","max_tokens":5,"temperature":1,"seed":\#(index),"stream":true}"#)
                            let text = response.eventJSON.compactMap { $0["choices"]?[0]?["text"]?.string }.joined()
                            #expect(text == expected, "request \(index)")
                            #expect(response.events.last == "[DONE]")
                        }
                    }
                }
                try await group.waitForAll()
            }
        }
        #expect(engine.counters.current.started == 32)
        #expect(engine.counters.current.finished == 32)
    }
}
