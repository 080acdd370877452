import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import ServiceLifecycle
import Testing

@testable import OpenAIServer

/// Over real sockets: `Expect: 100-continue`, and a drain that keeps answering 503 until the last
/// stream has ended. (A non-streaming client that leaves: LiveServerTests.)
@Suite(.serialized) struct LiveHardeningTests {
    /// A client that sends `Expect: 100-continue` and waits for it (curl here, for up to 20 s)
    /// gets `100 Continue` at once; a body declared over the limit gets its 413 without one.
    @Test(.timeLimit(.minutes(1))) func expectContinueIsAnswered() async throws {
        let configuration = OpenAIServerConfiguration(port: 0, maxBodyBytes: 4096)
        try await withServer(configuration: configuration, setup: .live) { client in
            let port = try #require(client.port)
            let url = "http://127.0.0.1:\(port)/v1/completions"
            let (out, _) = try await curl([
                "-s", "-o", "/dev/null", "-w", "%{http_code} %{time_total}", "--expect100-timeout", "20",
                "-H", "Content-Type: application/json", "-H", "Expect: 100-continue",
                "--data-binary", #"{"prompt":"x","max_tokens":2}"#, url,
            ])
            let parts = out.split(separator: " ")
            #expect(parts.first == "200", "\(out)")
            #expect((Double(parts.last ?? "") ?? 99) < 5, "curl waited for 100 Continue: \(out)")
            let big = String(repeating: "a", count: 8000)
            let (tooBig, _) = try await curl([
                "-s", "-o", "/dev/null", "-w", "%{http_code} %{time_total}", "--expect100-timeout", "20",
                "-H", "Content-Type: application/json", "-H", "Expect: 100-continue",
                "--data-binary", #"{"prompt":"\#(big)"}"#, url,
            ])
            #expect(tooBig.split(separator: " ").first == "413", "\(tooBig)")
            #expect((Double(tooBig.split(separator: " ").last ?? "") ?? 99) < 5, "\(tooBig)")
        }
    }

    /// SIGTERM as a load balancer wants it: the listener stays open and answers 503 with
    /// Retry-After (and closes the connection) while a running stream finishes in full; then it
    /// closes. A client that left does not hold the drain.
    @Test(.timeLimit(.minutes(1))) func aDrainAnswers503UntilTheLastStreamEnds() async throws {
        let engine = FakeEngine(contextLength: 4096, behaviour: .init(tokenDelay: .milliseconds(40)))
        let drain = DrainState()
        let reported = Locked<Int?>(nil)
        var logger = Logger(label: "drain-test")
        logger.logLevel = .warning
        let app = makeApplication(
            engine: engine, configuration: OpenAIServerConfiguration(host: "127.0.0.1", port: 0), drain: drain,
            logger: logger, onServerRunning: { port in reported.withLock { $0 = port } })
        let service = DrainingService(application: app, drain: drain, drainTimeoutSeconds: 30, logger: logger)
        let group = ServiceGroup(configuration: .init(services: [.init(service: service)], logger: logger))
        let running = Task { try await group.run() }
        try await waitUntil { reported.current != nil }
        let port = try #require(reported.current)
        let url = "http://127.0.0.1:\(port)"

        // A 40-token stream (~1.6 s), and a non-streaming client that gives up after 0.3 s.
        let stream = Task {
            try await curl(["-sN", "-H", "Content-Type: application/json", "--data-binary",
                            #"{"prompt":"x","max_tokens":40,"stream":true}"#, url + "/v1/completions"])
        }
        let quitter = Task {
            try await curl(["-s", "--max-time", "0.3", "-H", "Content-Type: application/json", "--data-binary",
                            #"{"prompt":"x","max_tokens":2000}"#, url + "/v1/completions"])
        }
        try await waitUntil { engine.counters.current.started == 2 }
        await group.triggerGracefulShutdown()
        try await waitUntil { drain.isDraining }

        let (refused, _) = try await curl(["-s", "-D", "-", "-H", "Content-Type: application/json", "--data-binary",
                                           #"{"prompt":"x","max_tokens":2}"#, url + "/v1/completions"])
        #expect(refused.hasPrefix("HTTP/1.1 503"), "\(refused)")
        #expect(refused.lowercased().contains("retry-after:"), "\(refused)")
        #expect(refused.lowercased().contains("connection: close"), "\(refused)")
        #expect(refused.contains("\"shutting_down\""), "\(refused)")
        let (health, _) = try await curl(["-s", "-o", "/dev/null", "-w", "%{http_code}", url + "/health"])
        #expect(health == "503")
        let (metrics, _) = try await curl(["-s", "-o", "/dev/null", "-w", "%{http_code}", url + "/metrics"])
        #expect(metrics == "200")

        _ = try await quitter.value
        let (streamed, _) = try await stream.value
        #expect(streamed.hasSuffix("data: [DONE]\n\n"), "\(streamed.suffix(200))")
        #expect(streamed.components(separatedBy: "\"text\":\"").count - 1 >= 40)
        try await running.value  // the service ends once the stream has
        #expect(engine.counters.current.cancelled == 1)  // the quitter, without waiting for its 2000 tokens
        let (after, code) = try await curl(["-s", "-o", "/dev/null", "-w", "%{http_code}", url + "/health"])
        #expect(after == "000" && code != 0, "the listener is still open")
    }
}

/// Runs curl (with a 30 s ceiling); returns its stdout and exit status.
func curl(_ arguments: [String]) async throws -> (String, Int32) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
    process.arguments = ["--max-time", "30"] + arguments
    let out = Pipe()
    process.standardOutput = out
    process.standardError = FileHandle.nullDevice
    return try await withCheckedThrowingContinuation { continuation in
        process.terminationHandler = { p in
            let data = out.fileHandleForReading.readDataToEndOfFile()
            continuation.resume(returning: (String(decoding: data, as: UTF8.self), p.terminationStatus))
        }
        do { try process.run() } catch { continuation.resume(throwing: error) }
    }
}
