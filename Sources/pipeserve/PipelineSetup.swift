import Coordinator
import Logging
import ModelRuntime
import WireProtocol

/// Placements for `stages` stages of `threads` threads on this machine; the planner's notes are
/// logged. Shared by generate, bench and serve.
func placeStages(_ stages: Int, threads: Int, mode: PlacementPlanner.Mode, logger: Logger, errorPrefix: String = "") throws
    -> [PlacementPlanner.Placement]
{
    do {
        let (placements, notes) = try PlacementPlanner(nodes: machineTopology()).place(stages: stages, threads: threads, mode: mode)
        for n in notes { logger.info("\(n)") }
        return placements
    } catch { throw CLIError(errorPrefix + error.description) }
}

/// The ring for a partition plan: one stage process per planned stage, with its placement.
func ringConfiguration(model: String, plan: PartitionPlan, threads: Int, placements: [PlacementPlanner.Placement]) -> RingConfiguration {
    RingConfiguration(modelPath: model, executable: currentExecutable(), stages: plan.stages.map {
        StageSpec(index: $0.index, layers: $0.layers, threads: threads, cpus: placements[$0.index].cpus,
                  numaNode: placements[$0.index].numaNode)
    })
}

/// The wire dtype named `f32`, `f16` or `bf16`.
func activationDType(named name: String) -> WireActivationDType? {
    WireActivationDType.allCases.first { "\($0)" == name }
}
