import Foundation
import Testing

/// The real daemon on port 0, driven with curl as a user would: health, models, completions
/// (plain and streaming), chat, concurrency, errors, and SIGTERM draining to exit 0.
@Suite(.serialized) struct ServeLiveTests {
    func config(_ extra: String = "") throws -> String {
        let path = CLI.scratch("serve-\(UUID().uuidString).yaml")
        try """
            model: \(try CLI.syntheticModel("tiny-llama"))
            chat_template: chatml
            pipeline: {stages: 2, numa: off}
            scheduler: {max_queue: 64, kv_cache_tokens: 8192}
            logging: {level: warning}
            \(extra)
            """.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test func completionsChatStreamingAndShutdown() throws {
        let server = try LiveServer(arguments: ["--config", try config()])
        let (hs, health) = try server.get("/health")
        #expect(hs == 200 && health.contains("\"ok\""), "\(health)")
        let (ms, models) = try server.get("/v1/models")
        #expect(ms == 200 && models.contains("synthetic-llama"), "\(models)")

        let (cs, body) = try server.post("/v1/completions", #"{"model":"synthetic-llama","prompt":"the cat","max_tokens":8,"temperature":0}"#)
        #expect(cs == 200, "\(body)")
        let c = try #require(json(body))
        #expect(c["object"] as? String == "text_completion")
        let usage = try #require(c["usage"] as? [String: Any])
        #expect(usage["completion_tokens"] as? Int == 8)
        let choice = try #require((c["choices"] as? [[String: Any]])?.first)
        #expect(choice["finish_reason"] as? String == "length")

        // Greedy text over HTTP equals `pipeserve generate` on the same model.
        let g = try CLI.run("generate", "--model", try CLI.syntheticModel("tiny-llama"), "--prompt", "the cat", "--max-tokens", "8",
                            "--json", "--ignore-eos")
        let gen = try #require(json(g.stdout))
        #expect(choice["text"] as? String == gen["text"] as? String)

        let stream = try server.curl(["-sN", "-H", "Content-Type: application/json", "--data-binary",
                                      #"{"prompt":"a b","max_tokens":5,"stream":true,"stream_options":{"include_usage":true}}"#,
                                      server.url("/v1/completions")]).stdout
        let events = stream.components(separatedBy: "\n\n").filter { $0.hasPrefix("data: ") }
        #expect(events.last == "data: [DONE]", "\(stream)")
        #expect(events.count >= 3 && stream.contains("\"usage\""), "\(stream)")

        let (ies, ie) = try server.post("/v1/completions", #"{"prompt":"x","max_tokens":7,"ignore_eos":true}"#)
        #expect(ies == 200 && (json(ie)?["usage"] as? [String: Any])?["completion_tokens"] as? Int == 7, "\(ie)")
        let (chs, chat) = try server.post("/v1/chat/completions", #"{"messages":[{"role":"user","content":"hi"}],"max_tokens":4}"#)
        #expect(chs == 200 && json(chat)?["object"] as? String == "chat.completion", "\(chat)")

        #expect(server.stop() == 0, "\(server.log)")
    }

    @Test func thirtyTwoConcurrentClients() throws {
        let server = try LiveServer(arguments: ["--config", try config()])
        defer { server.stop() }
        let results = Results()
        DispatchQueue.concurrentPerform(iterations: 32) { i in
            let r = try? server.post("/v1/completions", #"{"prompt":"request \#(i)","max_tokens":6,"temperature":0}"#)
            results.add(r)
        }
        #expect(results.all.count == 32 && results.all.allSatisfy { $0.0 == 200 && (json($0.1)?["usage"] as? [String: Any])?["completion_tokens"] as? Int == 6 })
    }

    final class Results: @unchecked Sendable {
        // Sendable: guarded by `lock`.
        let lock = NSLock()
        var all: [(Int, String)] = []
        func add(_ r: (Int, String)?) { lock.lock(); if let r { all.append(r) }; lock.unlock() }
    }

    @Test func errorClasses() throws {
        let keyFile = CLI.scratch("key-\(UUID().uuidString)")
        try "sekrit\n".write(toFile: keyFile, atomically: true, encoding: .utf8)
        let server = try LiveServer(arguments: ["--config", try config("http: {api_key_file: \(keyFile), max_body_bytes: 4096}")])
        defer { server.stop() }
        let auth = ["Authorization: Bearer sekrit"]
        func status(_ r: (Int, String)) -> Int { r.0 }
        #expect(status(try server.post("/v1/completions", #"{"prompt":"x"}"#)) == 401)
        #expect(status(try server.post("/v1/completions", #"{"prompt":"x"}"#, headers: ["Authorization: Bearer wrong"])) == 401)
        let (bad, badBody) = try server.post("/v1/completions", "{not json", headers: auth)
        #expect(bad == 400 && badBody.contains("\"error\""), "\(badBody)")
        let (t, tBody) = try server.post("/v1/completions", #"{"prompt":"x","temperature":-1}"#, headers: auth)
        #expect(t == 400 && tBody.contains("temperature"), "\(tBody)")
        let (long, longBody) = try server.post("/v1/completions", #"{"prompt":"x","max_tokens":100000}"#, headers: auth)
        #expect(long == 400 && longBody.contains("max_tokens"), "\(longBody)")
        #expect(status(try server.post("/v1/completions", #"{"prompt":"x","model":"gpt-9"}"#, headers: auth)) == 404)
        #expect(status(try server.post("/v1/nothing", "{}", headers: auth)) == 404)
        let big = String(repeating: "a", count: 10_000)
        #expect(status(try server.post("/v1/completions", #"{"prompt":"\#(big)"}"#, headers: auth)) == 413)
        let (oov, oovBody) = try server.post("/v1/completions", #"{"prompt":[[1,2],[99999999]],"max_tokens":2}"#, headers: auth)
        #expect(oov == 400 && oovBody.contains("outside the vocabulary"), "\(oovBody)")
        let (nested, _) = try server.post("/v1/completions", String(repeating: "[", count: 50_000) + String(repeating: "]", count: 50_000),
                                          headers: auth)
        #expect(nested == 400 || nested == 413)
        let (ok, okBody) = try server.post("/v1/completions", #"{"prompt":"x","max_tokens":2}"#, headers: auth)
        #expect(ok == 200, "\(okBody)")
        #expect(!server.log.contains("sekrit"))
    }
}

/// The official `openai` Python package against the daemon (scripts/test makes the venv and sets
/// PIPESERVE_PYTHON; the suite is skipped when run without it).
@Suite(.enabled(if: ProcessInfo.processInfo.environment["PIPESERVE_PYTHON"] != nil, "no PIPESERVE_PYTHON with the openai package"))
struct OpenAIClientTests {
    @Test func officialClientWorks() throws {
        let config = CLI.scratch("serve-openai-\(UUID().uuidString).yaml")
        try """
            model: \(try CLI.syntheticModel("tiny-llama"))
            chat_template: chatml
            pipeline: {stages: 2, numa: off}
            logging: {level: warning}
            """.write(toFile: config, atomically: true, encoding: .utf8)
        let server = try LiveServer(arguments: ["--config", config])
        defer { server.stop() }
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Python/openai_client_check.py").path
        let r = try CLI.exec(ProcessInfo.processInfo.environment["PIPESERVE_PYTHON"]!, [script, "http://127.0.0.1:\(server.port)", "synthetic-llama"])
        #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
    }
}

/// Structured output on the real Gemma 3 270M through the official `openai` package: response_format
/// json_schema (strict) and json_object, `chat.completions.parse`/`.stream` with a Pydantic model,
/// tools with `tool_choice` "required" and a named function (parse included), streamed and not;
/// every output parses and validates, for 1, 2 and 3 stages.
@Suite(.serialized, .enabled(if: ProcessInfo.processInfo.environment["PIPESERVE_MODEL"] != nil
                             && ProcessInfo.processInfo.environment["PIPESERVE_PYTHON"] != nil, "needs PIPESERVE_MODEL and PIPESERVE_PYTHON"))
struct StructuredOutputLiveTests {
    @Test(arguments: [1, 2, 3])
    func theOfficialClientGetsValidStructuredOutput(stages: Int) throws {
        let model = ProcessInfo.processInfo.environment["PIPESERVE_MODEL"] ?? ""
        let server = try LiveServer(arguments: ["--model", model, "--stages", "\(stages)", "--numa", "off", "--log-level", "warning"])
        defer { server.stop() }
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Python/openai_structured_check.py").path
        let r = try CLI.exec(ProcessInfo.processInfo.environment["PIPESERVE_PYTHON"]!, [script, "http://127.0.0.1:\(server.port)", "Gemma 3 270m"])
        #expect(r.status == 0, "\(stages) stages: \(r.stdout)\(r.stderr)")
    }
}

/// The daemon on the real Gemma 3 270M: greedy text over HTTP equals `pipeserve generate`, for one
/// and two stages; a client that disconnects mid-stream frees its sequence (watched in /metrics).
@Suite(.serialized, .enabled(if: ProcessInfo.processInfo.environment["PIPESERVE_MODEL"] != nil, "needs PIPESERVE_MODEL"))
struct ServeGemmaTests {
    let model = ProcessInfo.processInfo.environment["PIPESERVE_MODEL"] ?? ""

    @Test(arguments: [1, 2])
    func greedyOverHTTPEqualsGenerate(stages: Int) throws {
        let g = try CLI.run("generate", "--model", model, "--prompt", "The capital of France is", "--max-tokens", "16", "--json")
        let expected = try #require(json(g.stdout)?["text"] as? String)
        let server = try LiveServer(arguments: ["--model", model, "--stages", "\(stages)", "--numa", "off", "--log-level", "warning"])
        defer { server.stop() }
        let (s, body) = try server.post("/v1/completions", #"{"prompt":"The capital of France is","max_tokens":16,"temperature":0}"#)
        #expect(s == 200, "\(body)")
        let text = ((json(body)?["choices"] as? [[String: Any]])?.first?["text"] as? String) ?? ""
        // generate stops at end-of-generation as the API does; both are greedy.
        #expect(text == expected, "HTTP \(text.debugDescription) vs generate \(expected.debugDescription)")
        let (cs, chat) = try server.post("/v1/chat/completions", #"{"messages":[{"role":"user","content":"Say hello."}],"max_tokens":12}"#)
        #expect(cs == 200 && !(((json(chat)?["choices"] as? [[String: Any]])?.first?["message"] as? [String: Any])?["content"] as? String ?? "").isEmpty, "\(chat)")
    }

    /// The prefix cache as a user meets it: a shared system prompt, `n = 2` and the same chat sent
    /// again hit the cache (/metrics says how much) and change no text; `prefix_cache: false` gives
    /// the same texts.
    @Test func aSharedSystemPromptHitsTheCacheAndChangesNoText() throws {
        let system = "You are a patient support agent for a bicycle shop. Keep answers short, name the part, and suggest "
            + "one next step. The shop sells road bikes, gravel bikes, tubes, tires, chains, cassettes and lights."
        func body(_ question: String, n: Int = 1) -> String {
            #"{"messages":[{"role":"system","content":"\#(system)"},{"role":"user","content":"\#(question)"}],"max_tokens":10,"temperature":0,"n":\#(n)}"#
        }
        var cachedReported: [Int] = []
        func texts(_ server: LiveServer) throws -> [String] {
            var out: [String] = []
            cachedReported = []
            for b in [body("My chain skips."), body("My chain skips.", n: 2), body("Which tire fits a gravel bike?")] {
                let (st, reply) = try server.post("/v1/chat/completions", b)
                #expect(st == 200, "\(reply)")
                cachedReported.append((((json(reply)?["usage"] as? [String: Any])?["prompt_tokens_details"] as? [String: Any])?["cached_tokens"] as? Int) ?? -1)
                for c in (json(reply)?["choices"] as? [[String: Any]]) ?? [] {
                    out.append(((c["message"] as? [String: Any])?["content"] as? String) ?? "<none>")
                }
            }
            return out
        }
        let cached = try LiveServer(arguments: ["--model", model, "--stages", "2", "--numa", "off", "--log-level", "warning"])
        let withCache = try texts(cached)
        let metrics = try cached.get("/metrics").1
        cached.stop()
        let queries = metricValue(metrics, "pipeserve:prefix_cache_queries_total")
        let hits = metricValue(metrics, "pipeserve:prefix_cache_hits_total")
        #expect(hits >= 2 * 32 && hits < queries, "hits \(hits) of \(queries)")
        #expect(metricValue(metrics, "pipeserve:prefix_cache_blocks") > 0)
        // Stall-free mixing says what it allows (-1 until a solo rotation was measured).
        #expect(metrics.contains("pipeserve:decoding_prompt_allowance_tokens "), "\(metrics)")
        #expect(withCache.count == 4 && withCache[0] == withCache[1] && withCache[1] == withCache[2], "\(withCache)")
        // usage.prompt_tokens_details.cached_tokens: none the first time, the system prompt's blocks after.
        #expect(cachedReported[0] == 0 && cachedReported[1] >= 32 && cachedReported[2] >= 32, "\(cachedReported)")

        let path = CLI.scratch("nocache-\(UUID().uuidString).yaml")
        try "model: \(model)\npipeline: {stages: 2, numa: off}\nscheduler: {prefix_cache: false}\nlogging: {level: warning}\n"
            .write(toFile: path, atomically: true, encoding: .utf8)
        let plain = try LiveServer(arguments: ["--config", path])
        defer { plain.stop() }
        #expect(try texts(plain) == withCache)
        #expect(metricValue(try plain.get("/metrics").1, "pipeserve:prefix_cache_hits_total") <= 0)
    }

    @Test func aDisconnectedStreamFreesItsSequence() throws {
        let server = try LiveServer(arguments: ["--model", model, "--stages", "2", "--numa", "off", "--log-level", "warning"])
        defer { server.stop() }
        // The client gives up after 1.5 s of a 2000-token stream: curl's exit 28 (timed out) with
        // tokens already received shows it left mid-stream, not after an error or the end.
        let client = try server.curl(["-sN", "--max-time", "1.5", "-H", "Content-Type: application/json", "--data-binary",
                                      #"{"prompt":"Tell me a long story.","max_tokens":2000,"ignore_eos":true,"stream":true,"temperature":0.8}"#,
                                      server.url("/v1/completions")])
        #expect(client.status == 28, "curl exit \(client.status): \(client.stdout.prefix(500)) \(client.stderr)")
        #expect(client.stdout.hasPrefix("data: {") && !client.stdout.contains("data: [DONE]"), "\(client.stdout.prefix(500))")
        var running = -1.0, kv = -1.0
        for _ in 0..<100 {
            let metrics = try server.get("/metrics").1
            running = metricValue(metrics, "pipeserve:num_requests_running")
            kv = metricValue(metrics, "pipeserve:kv_cache_usage_tokens")
            if running == 0 && kv == 0 { break }
            usleep(50_000)
        }
        #expect(running == 0 && kv == 0, "running \(running), kv \(kv)")
    }

    func metricValue(_ text: String, _ name: String) -> Double {
        for line in text.split(separator: "\n") where line.hasPrefix(name + " ") || line.hasPrefix(name + "{") {
            return Double(line.split(separator: " ").last ?? "") ?? -1
        }
        return -1
    }
}
