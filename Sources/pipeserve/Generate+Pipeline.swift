import Coordinator
import Foundation
import Serving
import GGUF
import Logging
import ModelRuntime
import ServingTypes
import Planning
import StageWorker
import CPlatform
import WireProtocol

/// What a generation produced, in-process or through a pipeline.
struct Outcome {
    var tokens: [Int32]
    var logprobs: [Float]
    var prefillSeconds: Double
    var decodeSeconds: Double
    var decodeSteps: Int
    var finishReason: String
    var threads: Int
    var layerCounts: [Int]? = nil
    var stageComputeSeconds: [Double]? = nil
    var stageWaitSeconds: [Double]? = nil
    var stageResidentBytes: [Int]? = nil
    var stageProportionalBytes: [Int]? = nil
    /// Peak KV cache bytes of the sequence (one-process runs).
    var kvCacheBytes: Int? = nil
}

extension Generate {
    /// Runs the generation through `stages` stage processes spawned from this executable.
    func runPipeline(file: GGUFFile, hyperparameters h: Hyperparameters, stages: Int, prompt: [Int32], sampling: SamplingParameters,
                     stops: Set<Int32>, logger: Logger, onToken: (Int32) -> Bool) throws -> Outcome {
        let planner = PartitionPlanner(file: file, hyperparameters: h)
        let plan: PartitionPlan
        do {
            let workload = PartitionWorkload(promptTokens: prompt.count, outputTokens: maxTokens, decodeRows: 1, prefillRows: batchSize)
            plan = try layers.map { try planner.plan(counts: try parseLayerCounts($0), stages: stages, workload: workload) }
                ?? planner.balanced(stages: stages, workload: workload)
        } catch let e as PartitionError { throw CLIError(e.description) }
        let placements = try placeStages(stages, threads: threads, mode: try parseNUMAMode(numa), logger: logger)
        var config = ringConfiguration(model: model, plan: plan, threads: threads, placements: placements)
        config.activationDType = activationDType(named: activationDtype) ?? .f32
        config.stageLogLevel = logLevel
        let ring: StageRing
        do { ring = try StageRing(configuration: config, logger: logger) } catch { throw CLIError("cannot start the pipeline: \(error)") }
        defer { ring.shutdown() }
        var generator = PipelineGenerator(ring: ring)
        generator.prefillChunk = batchSize
        let r: PipelineGenerator.Result
        do {
            r = try generator.generate(prompt: prompt, maxTokens: maxTokens, sampling: sampling, topLogprobs: logprobs ? 1 : 0,
                                         stopTokens: stops, onToken: onToken)
        } catch { throw CLIError("generation failed: \(error)") }
        let memory = ring.memory()
        return Outcome(tokens: r.tokens, logprobs: logprobs ? r.logprobs : [], prefillSeconds: r.prefillSeconds,
                       decodeSeconds: r.decodeSeconds, decodeSteps: r.decodeSteps,
                       finishReason: r.finishedByStopToken ? "stop" : "length", threads: threads * stages,
                       layerCounts: plan.layerCounts, stageComputeSeconds: r.stageCompute.map { Double($0) / 1e9 },
                       stageWaitSeconds: r.stageWait.map { Double($0) / 1e9 }, stageResidentBytes: memory.map(\.rss), stageProportionalBytes: memory.map(\.pss))
    }
}

/// `off`, `auto` or a node list such as `0,1`.
func parseNUMAMode(_ s: String) throws -> PlacementPlanner.Mode {
    switch s {
    case "off": return .off
    case "auto": return .auto
    default:
        let nodes = s.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !nodes.isEmpty, nodes.allSatisfy({ $0 != nil && $0! >= 0 }) else {
            throw CLIError("numa must be off, auto or a list of node ids like 0,1 (got '\(s)')")
        }
        return .nodes(nodes.map { $0! })
    }
}
