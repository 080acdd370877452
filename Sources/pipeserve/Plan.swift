import ArgumentParser
import Foundation
import GGUF
import ModelRuntime

/// `pipeserve plan`: how a model's layers would be split into stages, and how balanced that is.
struct Plan: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the stage partition of a model: layer ranges, parameters, bytes, share of work, efficiency.",
        discussion: """
            Without --layers, layers are balanced by estimated cost per decode step (weight bytes read and \
            multiply-adds per layer, the embedding on the first stage, the output norm and head on the last). \
            Efficiency is mean/max stage cost: the throughput a full pipeline reaches relative to a perfect split.
            """)

    @Option(help: "Path of the GGUF model.") var model: String
    @Option(help: "Number of stages.") var stages: Int = 2
    @Option(help: "Explicit layer counts per stage, e.g. 10,8 (must sum to the layer count).") var layers: String?

    func run() throws {
        let file = try openModel(model)
        let h: Hyperparameters
        do { h = try Hyperparameters(metadata: file.metadata, tensors: file.tensors) } catch { throw CLIError("\(model): \(error)") }
        let planner = PartitionPlanner(file: file, hyperparameters: h)
        let plan: PartitionPlan
        do {
            if let layers {
                let counts = try parseLayerCounts(layers)
                plan = try planner.plan(counts: counts, stages: stages)
            } else {
                plan = try planner.balanced(stages: stages)
            }
        } catch let e as PartitionError { throw CLIError(e.description) }
        print("model: \(model) (\(h.architecture.rawValue), \(h.layerCount) layers)")
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
