import Foundation
import Testing
@testable import ServeConfig

@Suite struct ConfigLoaderTests {
    @Test func theShippedDefaultFileParsesToTheDefaults() throws {
        // config/pipeserve.yaml is the annotated default: it must load and equal the built-in defaults.
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("config/pipeserve.yaml")
        let c = try ConfigLoader.load(path: url.path)
        #expect(c == ServeConfiguration())
    }

    @Test func everyKeyIsRead() throws {
        let c = try ConfigLoader.parse("""
            model: /m.gguf
            served_model_name: demo
            http: {host: 0.0.0.0, port: 9000, api_key_file: /k, max_body_bytes: 2048, request_timeout: 30}
            pipeline:
              stages: 3
              layers: [6, 6, 6]
              micro_batches: 4
              threads_per_stage: 2
              cpus: [[0], [1], [0, 1]]
              numa: [0]
              socket_dir: /run/x
              activation_dtype: bf16
            scheduler: {max_running: 8, max_batch_tokens: 128, prefill_chunk_tokens: 48, kv_cache_tokens: 8192, max_queue: 10}
            limits: {context_length: 4096, max_tokens: 100, max_n: 2}
            recovery: {max_restarts: 2, restart_window: 60, heartbeat_timeout: 5}
            chat_template: chatml
            logging: {level: debug, format: json}
            trace: /tmp/t.json
            """)
        #expect(c.model == "/m.gguf" && c.servedModelName == "demo")
        #expect(c.http.host == "0.0.0.0" && c.http.port == 9000 && c.http.apiKeyFile == "/k" && c.http.maxBodyBytes == 2048)
        #expect(c.pipeline.stages == 3 && c.pipeline.layers == .counts([6, 6, 6]) && c.pipeline.effectiveMicroBatches == 4)
        #expect(c.pipeline.cpus == [[0], [1], [0, 1]] && c.pipeline.numa == .nodes([0]) && c.pipeline.activationDType == "bf16")
        #expect(c.scheduler.kvCacheTokens == 8192 && c.limits.maxN == 2 && c.chatTemplate == "chatml")
        #expect(c.scheduler.prefillChunkTokens == 48 && c.effectivePrefillChunkTokens == 48)
        #expect(c.logging.format == "json" && c.trace == "/tmp/t.json")
        #expect(c.recovery.maxRestarts == 2 && c.recovery.restartWindow == 60 && c.recovery.heartbeatTimeout == 5)
    }

    func failure(_ yaml: String) -> String {
        do { _ = try ConfigLoader.parse(yaml, file: "test.yaml"); return "no error" } catch { return "\(error)" }
    }

    @Test func unknownKeysNameTheLineAndSuggest() {
        let e = failure("model: /m\npipeline:\n  stage: 2\n")
        #expect(e == "test.yaml:3: pipeline.stage: unknown key (did you mean pipeline.stages?)", "\(e)")
        #expect(failure("modle: x").contains("did you mean model?"))
    }

    @Test func wrongTypesAndRanges() {
        #expect(failure("http:\n  port: eighty\n").contains("test.yaml:2: http.port: expected an integer"))
        #expect(failure("http:\n  port: 70000\n").contains("http.port: 70000 is out of range"))
        #expect(failure("pipeline:\n  stages: 0\n").contains("pipeline.stages: 0 is out of range"))
        #expect(failure("pipeline:\n  numa: sometimes\n").contains("pipeline.numa: 'sometimes' is not one of auto, off"))
        #expect(failure("pipeline:\n  activation_dtype: f8\n").contains("is not one of f32, f16, bf16"))
        #expect(failure("recovery:\n  heartbeat_timeout: -1\n").contains("recovery.heartbeat_timeout"))
        #expect(failure("recovery:\n  max_restart: 3\n").contains("did you mean recovery.max_restarts?"))
        #expect(failure("http: 5").contains("http: expected a mapping"))
        #expect(failure("logging:\n  level: loud\n").contains("logging.level"))
        #expect(failure("pipeline:\n  stages: 2\n  stages: 3\n").contains("stages"))
        #expect(failure("scheduler:\n  prefill_chunk_tokens: 0\n").contains("scheduler.prefill_chunk_tokens: 0 is out of range"))
        #expect(failure("scheduler:\n  prefill_chunk_tokens: lots\n").contains("scheduler.prefill_chunk_tokens: expected an integer"))
    }

    @Test func crossFieldChecks() {
        #expect(failure("pipeline:\n  stages: 2\n  layers: [1, 2, 3]\n").contains("pipeline.layers: lists 3 stages but pipeline.stages is 2"))
        #expect(failure("pipeline:\n  stages: 2\n  cpus: [[0]]\n").contains("pipeline.cpus"))
        #expect(failure("limits:\n  context_length: 9000\nscheduler:\n  kv_cache_tokens: 4096\n").contains("scheduler.kv_cache_tokens"))
    }

    @Test func brokenYAMLIsAnError() {
        #expect(failure("pipeline: [1, 2\n").contains("invalid YAML"))
        #expect(failure("a: b: c").contains("test.yaml"))
    }

    /// auto: the ring holds at most max_batch_tokens prompt tokens, whatever the micro-batch count.
    @Test func prefillChunkTokensFollowTheMicroBatches() throws {
        // Fewer micro-batches than stages is allowed, with a warning; auto never warns.
        var few = ServeConfiguration()
        few.pipeline.stages = 3
        #expect(ConfigLoader.pipelineAdvice(few).isEmpty)
        few.pipeline.microBatches = 2
        #expect(ConfigLoader.pipelineAdvice(few).first?.contains("2 micro-batches for 3 stages") == true)
        // Micro-batches auto: one per stage, at least two.
        #expect([1, 2, 3, 5].map { stages -> Int in
            var c = ServeConfiguration()
            c.pipeline.stages = stages
            return c.pipeline.effectiveMicroBatches
        } == [2, 2, 3, 5])
        #expect(ServeConfiguration().effectivePrefillChunkTokens == 128)  // 256 over 2 micro-batches (auto for 2 stages)
        let one = try ConfigLoader.parse("pipeline:\n  stages: 1\n  micro_batches: 1\nscheduler:\n  prefill_chunk_tokens: auto\n")
        #expect(one.scheduler.prefillChunkTokens == nil && one.effectivePrefillChunkTokens == 256)
        let many = try ConfigLoader.parse("pipeline:\n  micro_batches: 256\nscheduler:\n  max_batch_tokens: 100\n")
        #expect(many.effectivePrefillChunkTokens == 1)
        let capped = try ConfigLoader.parse("scheduler:\n  max_batch_tokens: 100\n  prefill_chunk_tokens: 500\n")
        #expect(capped.effectivePrefillChunkTokens == 100)
        #expect(ServeConfiguration().renderedYAML().contains("prefill_chunk_tokens: 128"))
    }

    @Test func emptyFileMeansDefaults() throws {
        #expect(try ConfigLoader.parse("") == ServeConfiguration())
        #expect(try ConfigLoader.parse("# only a comment\n") == ServeConfiguration())
    }
}

@Suite struct PermissionWarningTests {
    @Test func worldReadableSecretsAreNamed() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pipeserve-perm-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let key = dir.appendingPathComponent("key").path, conf = dir.appendingPathComponent("c.yaml").path
        try "k".write(toFile: key, atomically: true, encoding: .utf8)
        try "model: x".write(toFile: conf, atomically: true, encoding: .utf8)
        var c = ServeConfiguration()
        c.http.apiKeyFile = key
        chmod(key, 0o644); chmod(conf, 0o644)
        let loud = ConfigLoader.permissionWarnings(configPath: conf, configuration: c)
        #expect(loud.count == 2 && loud.allSatisfy { $0.contains("readable by every user") })
        chmod(key, 0o600); chmod(conf, 0o640)
        #expect(ConfigLoader.permissionWarnings(configPath: conf, configuration: c).isEmpty)
    }
}
