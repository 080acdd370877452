import Foundation
import GGUF
import Logging
import WireProtocol

/// What one stage process runs and where.
public struct StageSpec: Sendable, Equatable {
    public var index: Int
    public var layers: Range<Int>
    public var threads: Int
    /// CPUs to pin the stage's threads to (empty = no pinning).
    public var cpus: [Int]
    /// NUMA node for the stage's memory (nil = no binding).
    public var numaNode: Int?
    /// Whether other stages' threads share this stage's CPUs: its idle threads then sleep soon
    /// instead of spinning on a core the next stage needs.
    public var sharedCPUs: Bool

    public init(index: Int, layers: Range<Int>, threads: Int = 1, cpus: [Int] = [], numaNode: Int? = nil, sharedCPUs: Bool = false) {
        self.index = index; self.layers = layers; self.threads = threads; self.cpus = cpus; self.numaNode = numaNode
        self.sharedCPUs = sharedCPUs
    }
}

/// How to start a ring of stages.
public struct RingConfiguration: Sendable {
    public var modelPath: String
    /// The pipeserve executable (stages are `pipeserve stage …` of the same binary).
    public var executable: String
    public var stages: [StageSpec]
    public var activationDType: WireActivationDType = .f32
    /// Directory under which the private runtime directory is created.
    public var runtimeBase: String = RuntimeDirectory.defaultBase
    public var startupTimeoutSeconds: Double = 60
    public var stageLogLevel: String = "warning"

    public init(modelPath: String, executable: String, stages: [StageSpec]) {
        self.modelPath = modelPath; self.executable = executable; self.stages = stages
    }
}

/// Why the ring could not start or broke; names the stage.
public enum RingError: Error, CustomStringConvertible {
    case stageExited(stage: Int, status: Int32, detail: String)
    case stageNotReady(stage: Int, seconds: Double, detail: String)
    case link(stage: Int?, String)
    case refused(String)
    case stageReported(String)

    public var description: String {
        switch self {
        case let .stageExited(s, status, d): return "stage \(s) exited with status \(status)\(d.isEmpty ? "" : ": \(d)")"
        case let .stageNotReady(s, secs, d):
            return "stage \(s) did not become ready within \(Int(secs)) s\(d.isEmpty ? "" : " (\(d))")"
        case let .link(s, m): return "link \(s.map { "to stage \($0)" } ?? "from the last stage") failed: \(m)"
        case let .refused(m): return "handshake refused: \(m)"
        case let .stageReported(m): return "stage error: \(m)"
        }
    }
}

/// The coordinator's end of the pipeline: spawns P stage processes, links coordinator → stage 0 →
/// … → stage P-1 → coordinator over Unix sockets in a private directory, and carries messages.
public final class StageRing: RingExecutor, @unchecked Sendable {
    // Sendable: `toFirst` and `fromLast` are used by one sender and one receiver thread; the
    // process list is fixed after init.
    public let configuration: RingConfiguration
    public let directory: RuntimeDirectory
    public let processes: [StageProcess]
    public let identity: ModelIdentity
    let toFirst: WireConnection
    let fromLast: WireConnection
    let logger: Logger

    /// Spawns and links the stages. Call it from a thread that outlives the ring: the stages'
    /// parent-death signal fires when the spawning *thread* exits (Linux PR_SET_PDEATHSIG).
    public init(configuration c: RingConfiguration, logger: Logger) throws {
        self.configuration = c
        self.logger = logger
        let file = try GGUFFile(path: c.modelPath)
        let identity = ModelIdentity(file: file)
        self.identity = identity
        let dir = try RuntimeDirectory.create(base: c.runtimeBase)
        self.directory = dir
        var spawned: [StageProcess] = []
        func fail(_ e: Error) -> Error {
            for p in spawned { p.signal(SIGKILL) }
            for p in spawned { p.stop(graceSeconds: 0) }
            dir.remove()
            return e
        }
        let listener: UnixListener
        do { listener = try UnixListener(path: dir.coordinatorSocket) } catch { throw fail(error) }
        defer { listener.close() }
        let p = c.stages.count
        do {
            for s in c.stages {
                var args = ["stage", "--model", c.modelPath, "--index", "\(s.index)", "--stages", "\(p)",
                            "--layers", "\(s.layers.lowerBound):\(s.layers.upperBound)",
                            "--listen", dir.stageSocket(s.index),
                            "--next", s.index == p - 1 ? dir.coordinatorSocket : dir.stageSocket(s.index + 1),
                            "--threads", "\(s.threads)", "--activation-dtype", "\(c.activationDType)",
                            "--link-timeout", "\(c.startupTimeoutSeconds)", "--parent-pid", "\(getpid())",
                            "--log-level", c.stageLogLevel]
                if s.index < p - 1 {
                    let n = c.stages[s.index + 1].layers
                    args += ["--next-layers", "\(n.lowerBound):\(n.upperBound)"]
                }
                if !s.cpus.isEmpty { args += ["--cpus", s.cpus.map(String.init).joined(separator: ",")] }
                if let node = s.numaNode { args += ["--numa-node", "\(node)"] }
                if s.sharedCPUs { args.append("--shared-cpus") }
                spawned.append(try StageProcess(index: s.index, executable: c.executable, arguments: args, logger: logger))
            }
        } catch { throw fail(error) }
        do {
            (toFirst, fromLast) = try RingLinks.link(listener: listener, directory: dir, identity: identity, configuration: c,
                                                     members: Members(processes: spawned, seconds: c.startupTimeoutSeconds))
        } catch { throw fail(error) }
        self.processes = spawned
        logger.info("pipeline ring up", metadata: ["pipeline.stages": "\(p)", "pipeline.dir": "\(dir.path)"])
    }

    /// Sends a message into stage 0.
    public func send(_ m: WireMessage) throws { try toFirst.send(m) }

    /// Receives the next message that left the last stage (`timeout` nil = wait forever).
    public func receive(timeout: Duration? = nil) throws -> WireMessage { try fromLast.receive(timeout: timeout) }

    public var stageIDs: [Int32] { processes.map(\.pid) }

    /// Memory of each stage process now, in bytes (0 where unreadable): `rss` counts every
    /// resident page, `pss` divides pages shared with other processes (the Swift runtime and
    /// libraries every stage maps) among them, so the stages' PSS sum is what they hold together.
    public func memory() -> [(rss: Int, pss: Int)] { Self.memory(of: processes.map(\.pid)) }

    /// Resident and proportional set sizes (bytes) of processes by pid, from smaps_rollup;
    /// (0, 0) for one that cannot be read.
    public static func memory(of pids: [Int32]) -> [(rss: Int, pss: Int)] {
        pids.map { pid in
            guard let text = try? String(contentsOfFile: "/proc/\(pid)/smaps_rollup", encoding: .utf8) else { return (0, 0) }
            func field(_ name: String) -> Int {
                guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix(name + ":") }) else { return 0 }
                return (Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "") ?? 0) * 1024
            }
            return (field("Rss"), field("Pss"))
        }
    }

    /// The stage whose exit broke the ring, with its status (`StageExit.cause`).
    public var exitedStage: (index: Int, status: Int32)? {
        StageExit.cause(exits).map { ($0.index, $0.status) }
    }

    public func waitForExitCause(seconds: Double) -> (index: Int, status: Int32)? {
        StageExit.waitForCause(seconds: seconds) { exits }
    }

    private var exits: [StageExit] {
        processes.compactMap { p in
            p.exitOrder.map { StageExit(index: p.index, status: p.exited ?? -1, killed: $0.signalled, time: $0.time) }
        }
    }

    /// Kills every stage at once (SIGKILL also ends stopped ones), reaps them and removes the
    /// directory: the teardown of a ring that crashed or hung, where a polite shutdown could wait.
    public func kill() {
        for p in processes { p.signal(SIGKILL) }
        for p in processes { p.stop(graceSeconds: 1) }
        toFirst.close()
        fromLast.close()
        directory.remove()
    }

    /// Stages that are stopped (SIGSTOP), for naming the culprit of a hang.
    public var stoppedStages: [Int] { processes.filter(\.isStopped).map(\.index) }

    /// Sends shutdown around the ring, waits for the stages to exit (killing stragglers), removes the directory.
    public func shutdown(graceSeconds: Double = 3) {
        try? toFirst.send(.shutdown)
        let deadline = Date().addingTimeInterval(graceSeconds)
        for p in processes { p.stop(graceSeconds: max(0, deadline.timeIntervalSinceNow)) }
        toFirst.close()
        fromLast.close()
        directory.remove()
    }
}

extension StageRing {
    /// The stage processes as linking up sees them.
    struct Members: RingMembers {
        let processes: [StageProcess]
        let seconds: Double

        func endedStage() -> RingError? {
            processes.first { $0.exited != nil }.map { RingError.stageExited(stage: $0.index, status: $0.exited ?? -1, detail: $0.recentErrors) }
        }

        func waitAllReady(until deadline: Date) -> RingError? {
            for p in processes {
                switch p.waitReady(until: deadline) {
                case .ready: continue
                case let .exited(status): return .stageExited(stage: p.index, status: status, detail: p.recentErrors)
                case .timedOut: return .stageNotReady(stage: p.index, seconds: seconds, detail: p.recentErrors)
                }
            }
            return nil
        }
    }
}

/// Validation of the hello the last stage sends to the coordinator.
enum RingHandshake {
    static func refusal(_ h: WireHello, identity: ModelIdentity, stageCount: Int) -> WireErrorReport? {
        func refuse(_ code: WireErrorCode, _ m: String) -> WireErrorReport { WireErrorReport(origin: .coordinator, code: code, message: m) }
        if h.protocolVersion != WireFrame.version { return refuse(.versionMismatch, "protocol version \(h.protocolVersion)") }
        if h.model != identity { return refuse(.modelMismatch, "model \(h.model) differs from the coordinator's \(identity)") }
        if h.receiver != .coordinator { return refuse(.configurationMismatch, "hello addressed to \(h.receiver)") }
        if Int(h.stageCount) != stageCount { return refuse(.configurationMismatch, "stage count \(h.stageCount), expected \(stageCount)") }
        if h.sender != .stage(StageIndex(UInt16(stageCount - 1))) {
            return refuse(.configurationMismatch, "\(h.sender) linked to the coordinator; expected the last stage")
        }
        return nil
    }
}

/// A result handed from the accept thread to the starting thread.
final class LinkBox: @unchecked Sendable {
    // Sendable: guarded by the condition's lock.
    private let cond = NSCondition()
    private var value: Result<WireConnection, Error>?

    func set(_ v: Result<WireConnection, Error>) {
        cond.lock(); value = v; cond.broadcast(); cond.unlock()
    }

    func wait(until deadline: Date) -> Result<WireConnection, Error>? {
        cond.lock(); defer { cond.unlock() }
        while value == nil { if !cond.wait(until: deadline) { break } }
        return value
    }
}
