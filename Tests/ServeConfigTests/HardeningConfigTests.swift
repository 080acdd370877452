import Foundation
import Testing
@testable import ServeConfig

/// Configurations that could only misbehave are refused up front (`config check`, `serve`).
@Suite struct HardeningConfigTests {
    /// `n` above the queue bound would be answered 503 `queue_full` on an idle server for ever.
    @Test func maxNAboveTheQueueIsRefused() throws {
        do {
            _ = try ConfigLoader.parse("scheduler: {max_queue: 4}\nlimits: {max_n: 8}\n", file: "c.yaml")
            Issue.record("accepted max_n above max_queue")
        } catch let e as ConfigError {
            #expect(e.key == "limits.max_n" && e.message.contains("scheduler.max_queue 4"), "\(e)")
        }
        #expect(try ConfigLoader.parse("scheduler: {max_queue: 8}\nlimits: {max_n: 8}\n").limits.maxN == 8)
    }

    @Test func computeThreadsAgainstUsableCPUs() throws {
        var c = ServeConfiguration()
        c.pipeline.stages = 2
        c.pipeline.threadsPerStage = 1
        #expect(try ConfigLoader.cpuCheck(c, usableCPUs: 2).isEmpty)
        c.pipeline.threadsPerStage = 2
        let warnings = try ConfigLoader.cpuCheck(c, usableCPUs: 2)
        #expect(warnings.count == 1 && warnings[0].contains("4 compute threads on 2 usable CPUs"), "\(warnings)")
        c.pipeline.threadsPerStage = 4  // 8 threads on 2 CPUs: the limit itself is still allowed
        #expect(try ConfigLoader.cpuCheck(c, usableCPUs: 2).count == 1)
        c.pipeline.threadsPerStage = 1024  // the issue's case: 2 × 1024 threads on 2 cores
        do {
            _ = try ConfigLoader.cpuCheck(c, usableCPUs: 2, file: "c.yaml")
            Issue.record("accepted 2048 threads on 2 CPUs")
        } catch let e as ConfigError {
            #expect(e.key == "pipeline.threads_per_stage" && e.description.contains("2048 compute threads on 2 usable CPUs"), "\(e)")
            #expect(e.description.contains("use at most 4"), "\(e)")
        }
    }
}

/// `http.api_key_file`: one key per line; anything that could silently lock everyone out is an
/// error naming the line.
@Suite struct APIKeyFileTests {
    @Test func oneKeyPerLineWithCommentsAndBlankLines() throws {
        let keys = try APIKeyFile.parse("# rotated 2026-12\nsk-new-key\n\n  sk-old-key  \r\n")
        #expect(keys == ["sk-new-key", "sk-old-key"])
        #expect(try APIKeyFile.parse("single\n") == ["single"])
    }

    @Test func aKeyWithSpacesInsideIsRefused() throws {
        do {
            _ = try APIKeyFile.parse("first-key\nBearer second-key\n", file: "k")
            Issue.record("accepted a key with a space")
        } catch let e as ConfigError {
            #expect(e.line == 2 && e.message.contains("whitespace"), "\(e)")
        }
    }

    @Test func controlCharactersAndEmptyFilesAreRefused() throws {
        #expect(throws: ConfigError.self) { try APIKeyFile.parse("key\u{7}bell\n") }
        for empty in ["", "\n\n", "# only a comment\n"] {
            do {
                _ = try APIKeyFile.parse(empty, file: "k")
                Issue.record("accepted \(empty.debugDescription)")
            } catch let e as ConfigError {
                #expect(e.message.contains("holds no key"), "\(e)")
            }
        }
    }

    @Test func readingAMissingFileNamesIt() throws {
        do {
            _ = try APIKeyFile.read(path: "/nonexistent/pipeserve-key")
            Issue.record("read a missing file")
        } catch let e as ConfigError {
            #expect(e.description.contains("/nonexistent/pipeserve-key"), "\(e)")
        }
    }
}

/// `pipeline.threads_per_stage: auto` (the default): every CPU of the node, within the
/// oversubscription limit, and no time-sharing warning since that is its intent.
@Suite struct AutoThreadsTests {
    @Test func autoIsTheDefaultAndReadsBack() throws {
        #expect(ServeConfiguration().pipeline.threadsPerStage == nil)
        let c = try ConfigLoader.parse("pipeline: {threads_per_stage: auto}\n")
        #expect(c.pipeline.threadsPerStage == nil)
        #expect(c.renderedYAML().contains("threads_per_stage: auto"))
        #expect(try ConfigLoader.parse("pipeline: {threads_per_stage: 3}\n").pipeline.threadsPerStage == 3)
        #expect(throws: ConfigError.self) { try ConfigLoader.parse("pipeline: {threads_per_stage: many}\n") }
    }

    @Test func autoUsesEveryCPUOfTheNodeWithinTheLimit() throws {
        var c = ServeConfiguration()
        c.pipeline.stages = 2
        #expect(c.pipeline.effectiveThreadsPerStage(nodeCPUs: 2) == 2)
        #expect(c.pipeline.effectiveThreadsPerStage(nodeCPUs: 16) == 16)
        c.pipeline.stages = 16
        #expect(c.pipeline.effectiveThreadsPerStage(nodeCPUs: 2) == 1)  // 16 × 1 on 2 CPUs: 8 per CPU is the floor of 1
        c.pipeline.stages = 4
        #expect(c.pipeline.effectiveThreadsPerStage(nodeCPUs: 2) == 2)  // 8 threads on 2 CPUs: the limit
        #expect(try ConfigLoader.cpuCheck(c, usableCPUs: 2).isEmpty)
        c.pipeline.threadsPerStage = 1
        #expect(c.pipeline.effectiveThreadsPerStage(nodeCPUs: 64) == 1)
    }
}

/// `scheduler.decode_stall_limit`: 2 by default, a number above 1, or off.
@Suite struct DecodeStallLimitTests {
    @Test func itReadsBackAndRefusesWhatCannotWork() throws {
        #expect(ServeConfiguration().scheduler.decodeStallLimit == 2)
        #expect(try ConfigLoader.parse("scheduler: {decode_stall_limit: off}\n").scheduler.decodeStallLimit == nil)
        let c = try ConfigLoader.parse("scheduler: {decode_stall_limit: 1.5}\n")
        #expect(c.scheduler.decodeStallLimit == 1.5 && c.renderedYAML().contains("decode_stall_limit: 1.5"))
        for bad in ["1", "0.5", "soon"] {
            #expect(throws: ConfigError.self) { try ConfigLoader.parse("scheduler: {decode_stall_limit: \(bad)}\n") }
        }
    }
}

/// `scheduler.prefix_cache` (on by default) and `scheduler.kv_block_tokens` (32).
@Suite struct PrefixCacheConfigTests {
    @Test func itReadsBackAndRefusesWhatCannotWork() throws {
        let d = ServeConfiguration()
        #expect(d.scheduler.prefixCache && d.scheduler.kvBlockTokens == 32)
        let c = try ConfigLoader.parse("scheduler: {prefix_cache: false, kv_block_tokens: 16}\n")
        #expect(!c.scheduler.prefixCache && c.scheduler.kvBlockTokens == 16)
        #expect(c.renderedYAML().contains("prefix_cache: false") && c.renderedYAML().contains("kv_block_tokens: 16"))
        for bad in ["prefix_cache: maybe", "prefix_cache: 1.5", "kv_block_tokens: 0", "kv_block_tokens: 5000", "kv_block_tokens: many"] {
            do {
                _ = try ConfigLoader.parse("scheduler: {\(bad)}\n")
                Issue.record("accepted \(bad)")
            } catch let e as ConfigError {
                #expect(e.description.contains("scheduler." + bad.prefix { $0 != ":" }), "\(e)")
            }
        }
    }
}
