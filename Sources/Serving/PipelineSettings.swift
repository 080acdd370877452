import Coordinator
import ServeConfig
import Logging
import ModelRuntime
import Planning
import WireProtocol

/// Placements for `stages` stages of `threads` threads on this machine; the planner's notes are
/// logged. Shared by generate, bench and serve.
public func placeStages(_ stages: Int, threads: Int, mode: PlacementPlanner.Mode, logger: Logger, errorPrefix: String = "") throws
    -> [PlacementPlanner.Placement]
{
    do {
        let (placements, notes) = try PlacementPlanner(nodes: Machine.topology()).place(stages: stages, threads: threads, mode: mode)
        for n in notes { logger.info("\(n)") }
        return placements
    } catch { throw ServingError(errorPrefix + error.description) }
}

/// The ring for a partition plan: one stage process per planned stage, with its placement.
public func ringConfiguration(model: String, plan: PartitionPlan, threads: Int, placements: [PlacementPlanner.Placement]) -> RingConfiguration {
    let shared = sharedCPUs(placements.map(\.cpus), threads: threads, usableCPUs: Machine.usableCPUCount())
    return RingConfiguration(modelPath: model, executable: Machine.currentExecutable(), stages: plan.stages.map {
        StageSpec(index: $0.index, layers: $0.layers, threads: threads, cpus: placements[$0.index].cpus,
                  numaNode: placements[$0.index].numaNode, sharedCPUs: shared[$0.index])
    })
}

/// Per stage, whether another stage's threads (or two of its own) share its CPUs: pinned
/// stages whose CPU lists overlap or repeat; unpinned ones when all threads outnumber the CPUs.
public func sharedCPUs(_ cpus: [[Int]], threads: Int, usableCPUs: Int) -> [Bool] {
    guard cpus.allSatisfy({ !$0.isEmpty }) else { return cpus.map { _ in cpus.count * threads > usableCPUs } }
    return cpus.indices.map { i in
        Set(cpus[i]).count < cpus[i].count
            || cpus.indices.contains { j in j != i && !Set(cpus[j]).isDisjoint(with: cpus[i]) }
    }
}

/// The wire dtype named `f32`, `f16` or `bf16`.
public func activationDType(named name: String) -> WireActivationDType? {
    WireActivationDType.allCases.first { "\($0)" == name }
}

/// The ring and micro-batch count a configuration asks for: partition plan, stage placement,
/// wire dtype. Computed at start and again on SIGHUP.
public struct PipelineSettings: Sendable {
    public var ring: RingConfiguration
    public var microBatches: Int
    /// Prompt tokens per micro-batch (follows micro_batches when scheduler.prefill_chunk_tokens is auto).
    public var prefillChunkTokens: Int

    public init(_ c: ServeConfiguration, planner: PartitionPlanner, logger: Logger) throws {
        let plan: PartitionPlan
        let workload = PartitionWorkload.serving(runningSequences: c.scheduler.maxRunning, microBatches: c.pipeline.effectiveMicroBatches,
                                                 batchTokens: c.scheduler.maxBatchTokens, prefillChunkTokens: c.effectivePrefillChunkTokens)
        do {
            switch c.pipeline.layers {
            case .auto: plan = try planner.balanced(stages: c.pipeline.stages, workload: workload)
            case let .counts(counts): plan = try planner.plan(counts: counts, stages: c.pipeline.stages, workload: workload)
            }
        } catch { throw ServingError("pipeline.layers: \(error)") }
        let mode: PlacementPlanner.Mode = {
            switch c.pipeline.numa {
            case .off: return .off
            case .auto: return .auto
            case let .nodes(n): return .nodes(n)
            }
        }()
        let threads = c.pipeline.effectiveThreadsPerStage(nodeCPUs: Machine.nodeCPUCount())
        var placements = try placeStages(c.pipeline.stages, threads: threads, mode: mode, logger: logger,
                                         errorPrefix: "pipeline.numa: ")
        if !c.pipeline.cpus.isEmpty { for i in placements.indices { placements[i].cpus = c.pipeline.cpus[i] } }
        ring = ringConfiguration(model: c.modelPath, plan: plan, threads: threads, placements: placements)
        ring.activationDType = activationDType(named: c.pipeline.activationDType) ?? .f32
        if let dir = c.pipeline.socketDir { ring.runtimeBase = dir }
        ring.stageLogLevel = c.logging.level == "trace" || c.logging.level == "debug" ? c.logging.level : "warning"
        microBatches = c.pipeline.effectiveMicroBatches
        prefillChunkTokens = c.effectivePrefillChunkTokens
    }

    /// Whether applying `other` needs the stages restarted.
    public func differs(from other: PipelineSettings) -> Bool {
        ring.stages != other.ring.stages || ring.activationDType != other.ring.activationDType
            || ring.runtimeBase != other.ring.runtimeBase || microBatches != other.microBatches
            || prefillChunkTokens != other.prefillChunkTokens
    }
}
