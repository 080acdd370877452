import Foundation
import Testing

/// Inputs from outside the HTTP API that used to hang or mislead: a FIFO as the model, a burst of
/// configuration reloads, absurd thread counts, key files with several lines.
@Suite(.serialized) struct HardeningCLITests {
    @Test(.timeLimit(.minutes(1))) func aFIFOAsTheModelIsRefusedAtOnce() throws {
        let fifo = CLI.scratch("fifo-\(UUID().uuidString.prefix(8)).gguf")
        #expect(mkfifo(fifo, 0o600) == 0)
        defer { unlink(fifo) }
        let inspect = try CLI.run("inspect", fifo)
        #expect(inspect.status != 0 && inspect.stderr.contains("not a regular file (a FIFO)"), "\(inspect.stderr)")
        let serve = try CLI.run("serve", "--model", fifo, "--port", "0")
        #expect(serve.status != 0 && serve.stderr.contains("not a regular file (a FIFO)"), "\(serve.stderr)")
    }

    @Test func configCheckRefusesWhatCouldOnlyMisbehave() throws {
        let path = CLI.scratch("check-\(UUID().uuidString.prefix(8)).yaml")
        try "pipeline: {stages: 2, threads_per_stage: 1024}\n".write(toFile: path, atomically: true, encoding: .utf8)
        let threads = try CLI.run("config", "check", path)
        #expect(threads.status != 0 && threads.stderr.contains("pipeline.threads_per_stage") && threads.stderr.contains("usable CPUs"),
                "\(threads.stderr)")
        try "scheduler: {max_queue: 2}\nlimits: {max_n: 3}\n".write(toFile: path, atomically: true, encoding: .utf8)
        let n = try CLI.run("config", "check", path)
        #expect(n.status != 0 && n.stderr.contains("limits.max_n"), "\(n.stderr)")
        let key = CLI.scratch("key-\(UUID().uuidString.prefix(8))")
        try "first key with spaces\n".write(toFile: key, atomically: true, encoding: .utf8)
        chmod(key, 0o600)
        try "http: {api_key_file: \(key)}\n".write(toFile: path, atomically: true, encoding: .utf8)
        let badKey = try CLI.run("config", "check", path)
        #expect(badKey.status != 0 && badKey.stderr.contains("\(key):1") && badKey.stderr.contains("whitespace"), "\(badKey.stderr)")
        try "sk-one\nsk-two\n".write(toFile: key, atomically: true, encoding: .utf8)
        #expect(try CLI.run("config", "check", path).status == 0)
    }
}

/// SIGTERM on the real daemon, as a load balancer sees it: new requests get 503 with
/// Retry-After while a running stream finishes in full, a client that left is not waited for,
/// then the daemon exits 0 (the engine outlives the HTTP drain: the group stops in reverse order).
@Suite(.serialized) struct DrainCLITests {
    @Test(.timeLimit(.minutes(2))) func sigtermDrainsWhileAnsweringNewRequests503() throws {
        let path = CLI.scratch("drain-\(UUID().uuidString.prefix(8)).yaml")
        try """
            model: \(try CLI.syntheticModel("tiny-llama"))
            pipeline: {stages: 2, numa: off}
            logging: {level: warning}
            """.write(toFile: path, atomically: true, encoding: .utf8)
        let server = try LiveServer(arguments: ["--config", path])
        defer { server.stop() }
        // The last stage is stopped while the requests start, so they are still running at the
        // SIGTERM however fast the tiny model is; it continues once the 503 has been seen.
        let stages = childPIDs(of: server.process.processIdentifier)
        try #require(stages.count == 2)
        kill(stages[1], SIGSTOP)
        defer { kill(stages[1], SIGCONT) }
        let streamed = Collected()
        let group = DispatchGroup()
        DispatchQueue.global().async(group: group) {
            let r = try? server.curl(["-sN", "-H", "Content-Type: application/json", "--data-binary",
                                      #"{"prompt":"a long one","max_tokens":200,"ignore_eos":true,"stream":true,"stream_options":{"include_usage":true}}"#,
                                      server.url("/v1/completions")])
            streamed.set(0, (0, r?.stdout ?? ""))
        }
        // A client that gives up mid-generation must not hold the drain.
        DispatchQueue.global().async(group: group) {
            _ = try? server.curl(["-s", "--max-time", "1", "-H", "Content-Type: application/json", "--data-binary",
                                  #"{"prompt":"another","max_tokens":200,"ignore_eos":true}"#, server.url("/v1/completions")])
        }
        var running = 0.0
        for _ in 0..<200 where running < 2 {
            running = metric(try server.get("/metrics").1, "pipeserve:num_requests_running")
            usleep(20_000)
        }
        #expect(running == 2)
        kill(server.process.processIdentifier, SIGTERM)
        usleep(300_000)
        let refused = try server.curl(["-s", "-D", "-", "-H", "Content-Type: application/json", "--data-binary",
                                       #"{"prompt":"x","max_tokens":2}"#, server.url("/v1/completions")]).stdout
        #expect(refused.hasPrefix("HTTP/1.1 503") && refused.lowercased().contains("retry-after:")
                && refused.contains("shutting_down"), "\(refused)\n\(server.log)")
        usleep(1_000_000)  // the impatient client has left meanwhile
        kill(stages[1], SIGCONT)
        group.wait()
        let text = streamed.all[0]?.1 ?? ""
        #expect(text.hasSuffix("data: [DONE]\n\n"), "\(text.suffix(300))")
        #expect(text.contains("\"completion_tokens\":200"), "\(text.suffix(300))")
        let deadline = Date().addingTimeInterval(30)
        while server.process.isRunning && Date() < deadline { usleep(20_000) }
        #expect(!server.process.isRunning && server.process.terminationStatus == 0, "\(server.log)")
    }

    func metric(_ text: String, _ name: String) -> Double {
        for line in text.split(separator: "\n") where line.hasPrefix(name + " ") { return Double(line.split(separator: " ").last ?? "") ?? -1 }
        return -1
    }
}
