import Coordinator
import Foundation
import GGUF
import Logging
import StageWorker
import WireProtocol

/// A ring whose stages run in this process, each on a thread of its own: the same `StageRunner`,
/// the same Unix sockets in a private runtime directory, the same frames and handshakes as the
/// process ring — only `fork`/`exec` are gone. An engine on it starts in milliseconds, so engine,
/// recovery and reload logic test without processes; `crash(stage:)` and `pause(stage:)` stand in
/// for SIGKILL and SIGSTOP. Placement (CPU pinning, NUMA binding) is the process ring's business
/// and is not applied here.
public final class ThreadRing: RingExecutor, @unchecked Sendable {
    // Sendable: everything is fixed after init; the stage threads and connections are thread-safe.
    public let configuration: RingConfiguration
    let directory: RuntimeDirectory
    let stages: [StageThread]
    let toFirst: WireConnection
    let fromLast: WireConnection

    public init(configuration c: RingConfiguration, logger: Logger) throws {
        self.configuration = c
        let identity = ModelIdentity(file: try GGUFFile(path: c.modelPath))
        let dir = try RuntimeDirectory.create(base: c.runtimeBase)
        self.directory = dir
        let listener: UnixListener
        do { listener = try UnixListener(path: dir.coordinatorSocket) } catch { dir.remove(); throw error }
        defer { listener.close() }
        let p = c.stages.count
        let threads = c.stages.map { s in
            StageThread(options: StageOptions(
                modelPath: c.modelPath, index: s.index, stageCount: p, layers: s.layers, listenPath: dir.stageSocket(s.index),
                nextPath: s.index == p - 1 ? dir.coordinatorSocket : dir.stageSocket(s.index + 1),
                nextLayers: s.index < p - 1 ? c.stages[s.index + 1].layers : nil, threads: s.threads,
                activationDType: c.activationDType, linkTimeoutSeconds: c.startupTimeoutSeconds), logger: logger)
        }
        self.stages = threads
        do {
            (toFirst, fromLast) = try RingLinks.link(listener: listener, directory: dir, identity: identity, configuration: c,
                                                     members: Members(stages: threads, seconds: c.startupTimeoutSeconds))
        } catch {
            Self.end(threads, until: Date().addingTimeInterval(c.startupTimeoutSeconds + 5))
            dir.remove()
            throw error
        }
        logger.info("in-process pipeline ring up", metadata: ["pipeline.stages": "\(p)", "pipeline.dir": "\(dir.path)"])
    }

    /// A launcher for engines: each ring it starts is handed to `onStart` (tests keep it to crash
    /// or pause stages).
    public static func launcher(onStart: @escaping @Sendable (ThreadRing) -> Void = { _ in }) -> RingLauncher {
        RingLauncher { c, logger in
            let ring = try ThreadRing(configuration: c, logger: logger)
            onStart(ring)
            return ring
        }
    }

    /// Makes stage `index` fail as a killed process would: its links close at once, its code ends.
    public func crash(stage index: Int) { stages[index].control.crash() }

    /// Makes stage `index` stop handling messages, as a stopped (SIGSTOP) process would.
    public func pause(stage index: Int) { stages[index].control.pause() }

    public var stageIDs: [Int32] { stages.map(\.tid) }

    public func send(_ m: WireMessage) throws { try toFirst.send(m) }

    public func receive(timeout: Duration? = nil) throws -> WireMessage { try fromLast.receive(timeout: timeout) }

    public func waitForExitCause(seconds: Double) -> (index: Int, status: Int32)? {
        StageExit.waitForCause(seconds: seconds) {
            stages.compactMap { s in
                s.exitOrder.map { StageExit(index: s.index, status: s.exited ?? -1, killed: $0.crashed, time: $0.time) }
            }
        }
    }

    public var stoppedStages: [Int] { stages.filter { $0.control.isPaused }.map(\.index) }

    public func kill() {
        toFirst.shutdown()
        fromLast.shutdown()
        Self.end(stages, until: Date().addingTimeInterval(10))
        toFirst.close()
        fromLast.close()
        directory.remove()
    }

    public func shutdown(graceSeconds: Double = 3) {
        try? toFirst.send(.shutdown)
        let deadline = Date().addingTimeInterval(graceSeconds)
        for s in stages { s.join(until: deadline) }
        Self.end(stages, until: Date().addingTimeInterval(10))
        toFirst.close()
        fromLast.close()
        directory.remove()
    }

    /// Crashes the stages still running and waits for their code to return.
    private static func end(_ stages: [StageThread], until deadline: Date) {
        for s in stages where s.exited == nil { s.control.crash() }
        for s in stages { s.join(until: deadline) }
    }

    /// The stage threads as linking up sees them.
    struct Members: RingMembers {
        let stages: [StageThread]
        let seconds: Double

        func endedStage() -> RingError? {
            let ended = stages.compactMap { s in s.exitOrder.map { (s, $0.time) } }.min { $0.1 < $1.1 }?.0
            return ended.map { RingError.stageExited(stage: $0.index, status: $0.exited ?? -1, detail: $0.lastError) }
        }

        func waitAllReady(until deadline: Date) -> RingError? {
            for s in stages {
                switch s.waitReady(until: deadline) {
                case .ready: continue
                case let .exited(status): return .stageExited(stage: s.index, status: status, detail: s.lastError)
                case .timedOut: return .stageNotReady(stage: s.index, seconds: seconds, detail: "")
                }
            }
            return nil
        }
    }
}
