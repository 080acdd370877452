import Coordinator
import Foundation
import Serving
import GGUF
import Logging
import ModelRuntime
import ServingTypes
import Tokenization
import Scheduling
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
                     stops: Set<Int32>, constraint: OutputConstraint?, logger: Logger,
                     onToken: @escaping @Sendable (Int32) -> Void) throws -> Outcome {
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
        // The daemon's engine with one sequence: its prompt chunks (--batch-size) ride in as many
        // micro-batches as there are stages, so the stages work on successive chunks at once.
        let scheduler = SchedulerConfiguration(microBatches: stages, maxBatchTokens: batchSize, kvCacheTokens: h.contextLength,
                                               maxQueue: 1, maxRunning: 1, contextLength: h.contextLength, prefillChunkTokens: batchSize)
        let engine: PipelineEngine
        do {
            engine = try PipelineEngine(ringConfiguration: config, scheduler: scheduler, tokenizer: try Tokenizer(gguf: file),
                                        recovery: RecoveryPolicy(maxRestarts: 0), logger: logger)
            try engine.start()
        } catch { throw CLIError("cannot start the pipeline: \(error)") }
        defer { engine.stop() }
        let request = PipelineEngine.Request(id: engine.makeSequenceID(), requestID: "generate", prompt: prompt,
                                             stop: StopConditions(maxTokens: maxTokens, ignoreEOS: stops.isEmpty),
                                             sampling: sampling, topLogprobs: logprobs ? 1 : 0, constraint: constraint)
        let r: PipelineEngine.SingleRun
        do { r = try engine.runOne(request, onToken: onToken) } catch { throw CLIError("generation failed: \(error)") }
        let snap = engine.snapshot
        let memory = StageRing.memory(of: snap.stagePIDs)
        return Outcome(tokens: r.tokens, logprobs: logprobs ? r.logprobs : [], prefillSeconds: r.prefillSeconds,
                       decodeSeconds: r.decodeSeconds, decodeSteps: max(0, r.tokens.count - 1),
                       finishReason: r.finishReason.rawValue, threads: threads * stages,
                       layerCounts: plan.layerCounts, stageComputeSeconds: snap.stageComputeNanoseconds.map { Double($0) / 1e9 },
                       stageWaitSeconds: snap.stageWaitNanoseconds.map { Double($0) / 1e9 }, stageResidentBytes: memory.map(\.rss),
                       stageProportionalBytes: memory.map(\.pss))
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
