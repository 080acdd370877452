/// pipeserve's settings: what `config/pipeserve.yaml` holds, with the defaults that serve the demo
/// model with 2 stages on a 2-core machine. Command-line flags override the file.
public struct ServeConfiguration: Sendable, Equatable {
    public struct HTTP: Sendable, Equatable {
        public var host = "127.0.0.1"
        public var port = 8080
        /// File holding the API key (bearer token); nil = no authentication.
        public var apiKeyFile: String?
        public var maxBodyBytes = 1 << 20
        /// Seconds a request may take in all (slow bodies included).
        public var requestTimeout = 600.0
    }

    /// How layers are placed: balanced by estimated cost, or explicit counts per stage.
    public enum Layers: Sendable, Equatable {
        case auto
        case counts([Int])
    }

    /// Stage placement over NUMA nodes.
    public enum NUMA: Sendable, Equatable {
        case off, auto
        case nodes([Int])
    }

    public struct Pipeline: Sendable, Equatable {
        public var stages = 2
        public var layers: Layers = .auto
        /// Micro-batches in flight; nil = auto (`effectiveMicroBatches`).
        public var microBatches: Int?
        /// Compute threads per stage; nil = auto (`effectiveThreadsPerStage`).
        public var threadsPerStage: Int?
        /// CPU lists per stage (e.g. [[0], [1]]); empty = chosen by `numa`.
        public var cpus: [[Int]] = []
        public var numa: NUMA = .auto
        /// Where the runtime directory of the ring's sockets is created; nil = $RUNTIME_DIRECTORY,
        /// $XDG_RUNTIME_DIR or /tmp.
        public var socketDir: String?
        public var activationDType = "f32"

        /// The configured micro-batch count, or for auto one per stage and at least two. Every stage
        /// is busy once each holds a micro-batch, and a second one lets the coordinator sample and
        /// compose while the stages compute; each micro-batch beyond that streams all the weights
        /// again per token of its sequences, which costs more than the bubble it closes (Gemma 3
        /// 270M, 2 stages, 16 users: M = 2 gave 1.14x (1.13-1.26) the output tokens/s of M = 4 — the 262k-row
        /// output head is 68 % of a decode step's bytes; BENCHMARKS "One micro-batch per stage").
        public var effectiveMicroBatches: Int { microBatches ?? max(2, stages) }

        /// Threads per stage on a machine whose stages each have `nodeCPUs` CPUs (those of their
        /// NUMA node the daemon may use; all usable CPUs on a one-node machine): the configured
        /// number, or for auto every one of them — the stages time-share the cores, so one
        /// user's token crosses each stage with all of them while the idle stages sleep — but
        /// never more than `ConfigLoader.oversubscriptionLimit` threads per CPU in all.
        public func effectiveThreadsPerStage(nodeCPUs: Int) -> Int {
            threadsPerStage ?? max(1, min(nodeCPUs, nodeCPUs * ConfigLoader.oversubscriptionLimit / max(1, stages)))
        }
    }

    /// Prompt tokens per micro-batch: the configured value, or max_batch_tokens / micro_batches (at
    /// least 1) — the ring then holds at most max_batch_tokens prompt tokens at once, whatever M,
    /// and a burst of prompts fills and drains the pipeline in chunks that short.
    public var effectivePrefillChunkTokens: Int {
        Self.prefillChunkTokens(scheduler.prefillChunkTokens, maxBatchTokens: scheduler.maxBatchTokens,
                                microBatches: pipeline.effectiveMicroBatches)
    }

    /// `configured` (nil = auto: max_batch_tokens / micro_batches, at least 1), never above
    /// max_batch_tokens — the rule `serve` applies, for other commands that take the same setting.
    public static func prefillChunkTokens(_ configured: Int?, maxBatchTokens: Int, microBatches: Int) -> Int {
        min(maxBatchTokens, configured ?? max(1, maxBatchTokens / max(1, microBatches)))
    }

    public struct Scheduler: Sendable, Equatable {
        public var maxRunning = 64
        public var maxBatchTokens = 256
        /// Most prompt tokens in one micro-batch; nil = auto, max_batch_tokens / micro_batches.
        public var prefillChunkTokens: Int?
        /// KV cache budget per stage, in tokens.
        public var kvCacheTokens = 32768
        public var maxQueue = 256
        /// While sequences decode, their inter-token latency stays within this many times what it
        /// is without prompt work (stall-free mixing, measured per rotation); nil = off.
        public var decodeStallLimit: Double? = 2.0
        /// Keep computed KV in blocks named by their prefix and start later sequences with the
        /// same prefix from copies (shared system prompts, chat turns, n > 1, recompute).
        public var prefixCache = true
        /// Positions per prefix-cache block (hits come in whole blocks; at most the model's
        /// smallest sliding window, which `serve` applies).
        public var kvBlockTokens = 32
    }

    public struct Limits: Sendable, Equatable {
        /// nil = the model's context length.
        public var contextLength: Int?
        public var maxTokens = 4096
        public var maxN = 8
    }

    /// Stage crash and hang handling.
    public struct Recovery: Sendable, Equatable {
        /// Ring restarts allowed within `restartWindow`; one more crash fails the service.
        public var maxRestarts = 5
        /// Seconds over which restarts are counted.
        public var restartWindow = 300.0
        /// Seconds of silence from the ring (with work outstanding) before it counts as hung; 0 = off.
        public var heartbeatTimeout = 30.0
    }

    public struct Logging: Sendable, Equatable {
        public var level = "info"
        /// `text` or `json`.
        public var format = "text"
    }

    public var model = "~/.cache/pipeserve/models/gemma-3-270m-q4_k_m.gguf"
    /// Name in /v1/models; nil = the GGUF's general.name.
    public var servedModelName: String?
    public var http = HTTP()
    public var pipeline = Pipeline()
    public var scheduler = Scheduler()
    public var limits = Limits()
    public var recovery = Recovery()
    /// Chat format when the model's template is not recognised: gemma, llama3, chatml, llama2.
    public var chatTemplate: String?
    public var logging = Logging()
    /// Chrome trace-event JSON file written at shutdown; nil = no trace.
    public var trace: String?

    public init() {}

    /// `model` with a leading `~` expanded.
    public var modelPath: String { expandTilde(model) }
}

func expandTilde(_ p: String) -> String {
    guard p.hasPrefix("~") else { return p }
    let home = ProcessInfoHome.value
    return home + p.dropFirst()
}

enum ProcessInfoHome {
    static var value: String {
        if let h = getenv("HOME") { return String(cString: h) }
        return "/root"
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
