import ArgumentParser
import Foundation
import Serving
import GGUF
import ModelRuntime
import Planning

/// `pipeserve plan`: how a model's layers would be split into stages, and how balanced that is.
struct Plan: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the stage partition of a model: layer ranges, parameters, bytes, share of work, efficiency.",
        discussion: """
            Without --layers, layers are balanced by estimated cost per token of a workload (weight bytes read once \
            per micro-batch and multiply-adds per row, for each layer; the embedding on the first stage; the output \
            norm and head on the last, computed for every decode row but only for the last token of each prompt). \
            The default workload is the one `serve` assumes with the default configuration of 2 stages — 128 \
            prompt + 128 output tokens per request, 16 sequences per decode micro-batch, 64 prompt tokens per \
            prefill micro-batch — or one decode step alone with --decode-step. Efficiency is mean/max stage cost: the \
            throughput a full pipeline reaches relative to a perfect split.
            """)

    @Option(help: "Path of the GGUF model.") var model: String
    @Option(help: "Number of stages.") var stages: Int = 2
    @Option(help: "Explicit layer counts per stage, e.g. 10,8 (must sum to the layer count).") var layers: String?
    @Option(help: "Mean prompt tokens per request of the workload.") var promptTokens: Int = 128
    @Option(help: "Mean generated tokens per request of the workload.") var outputTokens: Int = 128
    @Option(help: "Sequences per decode micro-batch (serve: min(max_running, max_batch_tokens) / micro_batches).")
    var decodeRows: Int = 16
    @Option(help: "Prompt tokens per prefill micro-batch (serve: scheduler.prefill_chunk_tokens).") var prefillRows: Int = 64
    @Flag(help: "Balance a single decode step of one sequence instead (no prefill).") var decodeStep = false

    func validate() throws {
        guard promptTokens >= 0, outputTokens >= 0, promptTokens + outputTokens >= 1 else {
            throw ValidationError("--prompt-tokens and --output-tokens must be ≥ 0 and not both 0")
        }
        guard decodeRows >= 1 else { throw ValidationError("--decode-rows must be ≥ 1 (got \(decodeRows))") }
        guard prefillRows >= 1 else { throw ValidationError("--prefill-rows must be ≥ 1 (got \(prefillRows))") }
    }

    func run() throws {
        let file = try openModel(model)
        let h: Hyperparameters
        do { h = try Hyperparameters(metadata: file.metadata, tensors: file.tensors) } catch { throw CLIError("\(model): \(error)") }
        let planner = PartitionPlanner(file: file, hyperparameters: h)
        let workload = decodeStep ? PartitionWorkload.decodeStep
            : PartitionWorkload(promptTokens: promptTokens, outputTokens: outputTokens, decodeRows: decodeRows, prefillRows: prefillRows)
        let plan: PartitionPlan
        do {
            if let layers {
                let counts = try parseLayerCounts(layers)
                plan = try planner.plan(counts: counts, stages: stages, workload: workload)
            } else {
                plan = try planner.balanced(stages: stages, workload: workload)
            }
        } catch let e as PartitionError { throw CLIError(e.description) }
        print("model: \(model) (\(h.architecture.rawValue), \(h.layerCount) layers)")
        print("workload: \(decodeStep ? "one decode step of one sequence" : workload.description)")
        print("stage  layers        params      bytes    share  notes")
        for (s, share) in zip(plan.stages, plan.shares) {
            var notes: [String] = []
            if s.hasEmbedding { notes.append("embedding") }
            if s.hasHead { notes.append("norm + head") }
            let range = "[\(s.layers.lowerBound), \(s.layers.upperBound))"
            print(String(format: "%5d  %-10@ %9.1fM %10@  %6.1f%%  %@", s.index, range as NSString, Double(s.parameters) / 1e6,
                         formatBytes(s.bytes) as NSString, share * 100, notes.joined(separator: ", ") as NSString))
        }
        print(String(format: "layers: %@   efficiency (mean/max stage cost): %.1f%%",
                     plan.layerCounts.map(String.init).joined(separator: ",") as NSString, plan.efficiency * 100))
    }
}

/// Parses "10,8" into layer counts; errors name the bad part.
func parseLayerCounts(_ s: String) throws -> [Int] {
    try s.split(separator: ",", omittingEmptySubsequences: false).map {
        guard let n = Int($0.trimmingCharacters(in: .whitespaces)) else { throw CLIError("--layers: '\($0)' is not a number") }
        return n
    }
}
