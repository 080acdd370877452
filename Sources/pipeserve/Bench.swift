import ArgumentParser
import Coordinator
import Foundation
import Serving
import GGUF
import Logging
import ModelRuntime
import Planning
import Scheduling
import ServingTypes
import ServeConfig
import SyntheticModels
import Tokenization
import WireProtocol

/// `pipeserve bench`: offline throughput and latency of the pipeline for combinations of stage
/// counts and micro-batch counts (no HTTP).
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure output tokens/s, decode tokens/s, TTFT, TPOT, stage busy ratios and the bubble for stage × micro-batch combinations.",
        discussion: """
            Runs --requests requests of --prompt-tokens random prompt tokens and --output-tokens generated tokens \
            (end-of-generation ignored), all at once or as Poisson arrivals at --rate per second, through each \
            combination of --stages and --micro-batches. Stage busy = compute time / run time; bubble = 1 − mean busy.

            Output tok/s = all generated tokens / wall time (prefill included). Decode tok/s = tokens sampled by \
            iterations that carried no prefill work / the wall time of those iterations (each iteration runs from \
            the previous batch's return to its own), comparable with llama-batched-bench's S_TG; continuous \
            batching puts other prompts' prefill chunks in the same iterations as decodes, which TPOT includes \
            and this excludes (JSON: decode_tokens_per_s, with decode_iterations, decode_tokens, decode_seconds and \
            prefill_iterations). It is "–" (JSON null) when no iteration was decode-only, e.g. with --output-tokens 1.

            Link µs/hop = (round trip − Σ stage compute) per batch / (stages + 1) links: framing, copies and, with \
            M > 1, queueing behind other batches. Stage memory = the stage processes' proportional set size \
            (PSS: pages shared between stages counted once) summed, over the model file's size, read at the end \
            of each run. The pipeline-overhead sweep: --requests 1 --prompt-tokens 1 --stages 1,2,3,4 \
            --micro-batches 1 --activation-dtype f32,f16,bf16 (scripts/bench-pipeline runs it).
            """)

    @Option(help: "Path of the GGUF model.") var model: String
    @Option(help: "Number of requests.") var requests: Int = 16
    @Option(help: "Prompt tokens per request.") var promptTokens: Int = 128
    @Option(help: "Generated tokens per request.") var outputTokens: Int = 128
    @Option(help: "Poisson arrival rate (requests/s); all at once when absent.") var rate: Double?
    @Option(help: "Stage counts to try, e.g. 1,2.") var stages: String = "1,2"
    @Option(help: "Micro-batch counts to try, e.g. 1,2,4.") var microBatches: String = "1,2"
    @Option(help: "Threads per stage.") var threadsPerStage: Int = 1
    @Option(help: "Explicit layer counts per stage, e.g. 11,11 (only with a single --stages value).") var layers: String?
    @Option(help: "Token budget of one micro-batch iteration (decodes + prefill chunks).") var maxBatchTokens: Int = 256
    @Option(help: "Prompt tokens per micro-batch: a number, or auto = --max-batch-tokens / micro-batches (as serve).")
    var prefillChunkTokens: String = "auto"
    @Option(help: "KV cache budget in tokens per stage.") var kvCacheTokens: Int = 65536
    @Option(help: "While sequences decode, their inter-token latency stays within this many times what it is without prompt work (prompt chunks paced by measured rotations), or off (as scheduler.decode_stall_limit).")
    var decodeStallLimit: String = "2.0"

    @Option(help: "Stage placement: off, auto, or node ids.") var numa: String = "off"
    @Option(help: "Hidden states on the wire: f32, f16 or bf16, or a list of them to compare (multi-stage runs only).")
    var activationDtype: String = "f32"
    @Option(help: "Write a Chrome trace-event JSON of the last combination to this file.") var trace: String?
    @Option(help: "Seed of the random prompts and arrivals.") var seed: UInt64 = 1
    @Flag(help: "Print a JSON list, one object per combination.") var json = false
    @Option(help: "Log level.") var logLevel: String = "warning"

    func validate() throws {
        guard requests >= 1 else { throw ValidationError("--requests must be ≥ 1") }
        guard promptTokens >= 1 else { throw ValidationError("--prompt-tokens must be ≥ 1") }
        guard outputTokens >= 1 else { throw ValidationError("--output-tokens must be ≥ 1") }
        if let rate, !(rate > 0) { throw ValidationError("--rate must be > 0") }
        guard threadsPerStage >= 1 else { throw ValidationError("--threads-per-stage must be ≥ 1") }
        guard maxBatchTokens >= 1, kvCacheTokens >= 1 else { throw ValidationError("--max-batch-tokens and --kv-cache-tokens must be ≥ 1") }
        if decodeStallLimit != "off" {
            guard let l = Double(decodeStallLimit), l > 1 else {
                throw ValidationError("--decode-stall-limit must be off or a number > 1 (got '\(decodeStallLimit)')")
            }
        }
        if prefillChunkTokens != "auto" {
            guard let n = Int(prefillChunkTokens), n >= 1 else {
                throw ValidationError("--prefill-chunk-tokens must be auto or a number ≥ 1 (got '\(prefillChunkTokens)')")
            }
        }
    }

    func run() throws {
        let logger = makeLogger(level: logLevel)
        let loaded: LoadedModel
        do { loaded = try LoadedModel(path: model) } catch { throw CLIError("\(error)") }
        let (file, h, tokenizer) = (loaded.file, loaded.hyperparameters, loaded.tokenizer)
        guard promptTokens + outputTokens <= h.contextLength else {
            throw CLIError("--prompt-tokens + --output-tokens = \(promptTokens + outputTokens) exceeds the context length \(h.contextLength)")
        }
        let stageList = try parseList(stages, "--stages")
        let dtypes = try activationDtype.split(separator: ",").map { name in
            guard let d = activationDType(named: String(name)) else {
                throw CLIError("--activation-dtype must be f32, f16 or bf16, or a list of them (got \(activationDtype))")
            }
            return (String(name), d)
        }
        let fileBytes = Double(file.fileSize)
        let mbList = try parseList(microBatches, "--micro-batches")
        let planner = PartitionPlanner(file: file, hyperparameters: h)
        var results: [[String: Any]] = []
        if !json {
            print("| stages | M | wire | layers | output tok/s | decode tok/s | TTFT p50/p90/p99 ms | TPOT p50/p90/p99 ms | stage busy | bubble | link µs/hop | stage memory / file |")
            print("|---|---|---|---|---|---|---|---|---|---|---|---|")
        }
        for (ci, s) in stageList.enumerated() {
            let placements = try placeStages(s, threads: threadsPerStage, mode: try parseNUMAMode(numa), logger: logger)
            // One stage has no wire between stages: one dtype is enough there.
            let combinations = mbList.flatMap { m in (s == 1 ? Array(dtypes.prefix(1)) : dtypes).map { (m, $0) } }
            for (k, (m, (dtypeName, dtype))) in combinations.enumerated() {
                // Balanced for this run's traffic: its prompt and output lengths, its rows per micro-batch.
                let chunk = ServeConfiguration.prefillChunkTokens(Int(prefillChunkTokens), maxBatchTokens: maxBatchTokens, microBatches: m)
                let workload = PartitionWorkload.serving(promptTokens: promptTokens, outputTokens: outputTokens, runningSequences: requests,
                                                         microBatches: m, batchTokens: maxBatchTokens, prefillChunkTokens: chunk)
                let plan: PartitionPlan
                do {
                    plan = try layers.map { try planner.plan(counts: try parseLayerCounts($0), stages: s, workload: workload) }
                        ?? planner.balanced(stages: s, workload: workload)
                } catch { throw CLIError("\(error)") }
                var config = ringConfiguration(model: model, plan: plan, threads: threadsPerStage, placements: placements)
                config.stageLogLevel = logLevel
                config.activationDType = dtype
                let sched = SchedulerConfiguration(microBatches: m, maxBatchTokens: maxBatchTokens, kvCacheTokens: kvCacheTokens,
                                                   maxQueue: requests, maxRunning: requests, contextLength: h.contextLength,
                                                   prefillChunkTokens: chunk, decodeStallLimit: Double(decodeStallLimit))
                let last = ci == stageList.count - 1 && k == combinations.count - 1
                let engine: PipelineEngine
                do { engine = try PipelineEngine(ringConfiguration: config, scheduler: sched, tokenizer: tokenizer, trace: last && trace != nil, logger: logger) }
                catch { throw CLIError("\(error)") }
                do { try engine.start() } catch { throw CLIError("cannot start \(s) stages: \(error)") }
                let r = BenchWorkload(requests: requests, promptTokens: promptTokens, outputTokens: outputTokens, rate: rate, seed: seed)
                    .run(engine: engine, vocabulary: h.vocabularySize, label: isatty(2) != 0 ? "stages \(s), M \(m)" : nil)
                let snap = engine.snapshot
                let memory = StageRing.memory(of: snap.stagePIDs)
                engine.stop()
                let pssShare = Double(memory.reduce(0) { $0 + $1.pss }) / fileBytes
                if last, let trace { try engine.traceJSON().write(toFile: trace, atomically: true, encoding: .utf8) }
                let busy = snap.stageComputeNanoseconds.map { Double($0) / max(1, r.wallNanoseconds) }
                let bubble = 1 - busy.reduce(0, +) / Double(max(1, busy.count))
                // Per hop (stages + 1 links per round trip); includes queueing behind other batches when M > 1.
                let hopMicros = Double(snap.transportNanoseconds) / Double(max(1, snap.batches)) / Double(s + 1) / 1000
                let decode = snap.decodePhase
                let row: [String: Any] = [
                    "stages": s, "micro_batches": m, "threads_per_stage": threadsPerStage, "layers": plan.layerCounts,
                    "prefill_chunk_tokens": chunk,
                    "requests": requests, "completed": r.completed, "failed": r.failed,
                    "output_tokens_per_s": r.outputTokensPerSecond,
                    "decode_tokens_per_s": decode.tokensPerSecond.map { $0 as Any } ?? NSNull(),
                    "decode_iterations": Int(decode.iterations), "decode_tokens": Int(decode.tokens),
                    "decode_seconds": Double(decode.nanoseconds) / 1e9, "prefill_iterations": Int(decode.prefillIterations),
                    "ttft_ms": BenchWorkload.percentiles(r.ttft), "tpot_ms": BenchWorkload.percentiles(r.tpot),
                    "stage_busy": busy, "bubble_ratio": bubble, "batches": Int(snap.batches),
                    "link_overhead_us_per_hop": hopMicros, "activation_dtype": dtypeName,
                    "stage_resident_bytes": memory.map(\.rss), "stage_proportional_bytes": memory.map(\.pss), "model_bytes": file.fileSize,
                ]
                results.append(row)
                if !json {
                    func p(_ v: [Double]) -> String { let q = BenchWorkload.percentiles(v); return String(format: "%.0f/%.0f/%.0f", q["p50"]!, q["p90"]!, q["p99"]!) }
                    let layerText = plan.layerCounts.map(String.init).joined(separator: ",")
                    let busyText = busy.map { String(format: "%.0f%%", $0 * 100) }.joined(separator: " ")
                    let decodeText = decode.tokensPerSecond.map { String(format: "%.1f", $0) } ?? "–"
                    print("| \(s) | \(m) | \(s == 1 ? "–" : dtypeName) | \(layerText) | \(String(format: "%.1f", r.outputTokensPerSecond)) | \(decodeText) | \(p(r.ttft)) | \(p(r.tpot)) | \(busyText) | \(String(format: "%.0f%%", bubble * 100)) | \(String(format: "%.0f", hopMicros)) | \(String(format: "%.2f", pssShare)) |")
                    fflush(nil)
                }
                if r.failed > 0 { FileHandle.standardError.write(Data("bench: \(r.failed) requests failed: \(r.firstError ?? "")\n".utf8)) }
            }
        }
        if json {
            let data = try JSONSerialization.data(withJSONObject: results, options: [.sortedKeys])
            FileHandle.standardOutput.write(data + Data("\n".utf8))
        }
    }
}

func parseList(_ s: String, _ flag: String) throws -> [Int] {
    let v = s.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
    guard !v.isEmpty, v.allSatisfy({ ($0 ?? 0) >= 1 }) else { throw CLIError("\(flag) must be a list of positive numbers like 1,2 (got '\(s)')") }
    return v.map { $0! }
}
