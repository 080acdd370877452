import ArgumentParser
import CPlatform
import Foundation
import Serving
import Logging
import StageWorker
import WireProtocol

/// `pipeserve stage …`: one pipeline stage. Spawned by the coordinator, not by users.
struct Stage: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "(internal) Run one pipeline stage; the coordinator spawns these.", shouldDisplay: false)

    @Option(help: "Path of the GGUF model.") var model: String
    @Option(help: "This stage's index (0-based).") var index: Int
    @Option(help: "Number of stages in the ring.") var stages: Int
    @Option(help: "Layer range START:END (end exclusive).") var layers: String
    @Option(help: "Socket to listen on for the upstream peer.") var listen: String
    @Option(help: "Socket of the downstream peer.") var next: String
    @Option(help: "Layer range of the downstream stage, START:END.") var nextLayers: String?
    @Option(help: "Compute threads.") var threads: Int = 1
    @Option(help: "CPUs to pin threads to, e.g. 0,1.") var cpus: String?
    @Option(help: "NUMA node to bind memory (and, without --cpus, threads) to.") var numaNode: Int?
    @Option(help: "Activation dtype on the wire: f32, f16, bf16.") var activationDtype: String = "f32"
    @Option(help: "Seconds to wait for neighbours while linking.") var linkTimeout: Double = 60
    @Option(help: "Exit at once if this is not our parent (the coordinator died before we started).") var parentPid: Int32?
    @Option(help: "Log level.") var logLevel: String = "warning"
    @Flag(help: "Other stages share this stage's CPUs: idle compute threads sleep soon instead of spinning.") var sharedCpus = false

    func run() throws {
        // Die with the coordinator, even if it is SIGKILLed. The spawner's blocked-signal mask is
        // inherited through exec: clear it, or signals would stay pending forever.
        _ = ps_sys_unblock_all_signals()
        _ = ps_sys_set_parent_death_signal(SIGKILL)
        // The coordinator alone decides when a stage stops (a shutdown message after draining, or
        // its death). systemd's KillMode=control-group and a terminal's Ctrl-C signal every
        // process of the group at once; a stage that died then would fail the requests the
        // coordinator is still draining (and look like a crash to restart).
        signal(SIGTERM, SIG_IGN)
        signal(SIGINT, SIG_IGN)
        signal(SIGHUP, SIG_IGN)
        if let parentPid, getppid() != parentPid { throw CLIError("stage \(index): coordinator \(parentPid) is gone") }
        signal(SIGPIPE, SIG_IGN)
        let logger = makeLogger(level: logLevel)
        guard index >= 0, stages >= 1, index < stages else { throw CLIError("stage index \(index) out of range for \(stages) stages") }
        let range = try parseRange(layers, "--layers")
        let nextRange = try nextLayers.map { try parseRange($0, "--next-layers") }
        guard let dtype = activationDType(named: activationDtype) else {
            throw CLIError("--activation-dtype must be f32, f16 or bf16 (got \(activationDtype))")
        }
        let cpuList = try cpus.map { try parseCPUList($0) } ?? []
        let options = StageOptions(modelPath: model, index: index, stageCount: stages, layers: range, listenPath: listen,
                                   nextPath: next, nextLayers: nextRange, threads: threads,
                                   placement: StagePlacement(cpus: cpuList, numaNode: numaNode), activationDType: dtype,
                                   linkTimeoutSeconds: linkTimeout, sharedCPUs: sharedCpus)
        do {
            try StageRunner(options: options, logger: logger).run { observed in
                print("READY stage=\(index) pid=\(getpid()) \(observed)")
                fflush(nil)
            }
        } catch {
            throw CLIError("stage \(index): \(error)")
        }
    }
}

func parseRange(_ s: String, _ flag: String) throws -> Range<Int> {
    let parts = s.split(separator: ":")
    guard parts.count == 2, let a = Int(parts[0]), let b = Int(parts[1]), a >= 0, b > a else {
        throw CLIError("\(flag) must be START:END with 0 ≤ START < END (got \(s))")
    }
    return a..<b
}

/// "0,2-3" → [0, 2, 3].
func parseCPUList(_ s: String) throws -> [Int] {
    var out: [Int] = []
    for part in s.split(separator: ",") {
        let bounds = part.split(separator: "-")
        guard let lo = bounds.first.flatMap({ Int($0) }), lo >= 0, bounds.count <= 2 else { throw CLIError("bad CPU list '\(s)'") }
        let hi = bounds.count == 2 ? Int(bounds[1]) : lo
        guard let hi, hi >= lo, hi < 65536 else { throw CLIError("bad CPU list '\(s)'") }
        out += Array(lo...hi)
    }
    return out
}
