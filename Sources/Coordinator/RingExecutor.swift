import Foundation
import Logging
import WireProtocol

/// The stages an engine drives, however they run: what the engine sends goes into stage 0, what
/// leaves the last stage comes back. Two implementations: `StageRing` (a process per stage, what
/// the daemon runs) and `ThreadRing` in InProcessRing (the same stage code and wire frames on
/// threads, so engine, recovery and reload logic test without processes).
public protocol RingExecutor: AnyObject, Sendable {
    /// Operating-system ids of the stages, in stage order: process ids, or thread ids for an
    /// in-process ring (for metrics and log lines).
    var stageIDs: [Int32] { get }
    /// Sends a message into stage 0.
    func send(_ m: WireMessage) throws
    /// Receives the next message that left the last stage (`timeout` nil = wait forever).
    func receive(timeout: Duration?) throws -> WireMessage
    /// The stage whose end broke the ring, with its exit status, waiting up to `seconds` for it.
    func waitForExitCause(seconds: Double) -> (index: Int, status: Int32)?
    /// Stages that are stopped (they neither run nor die), to name the culprit of a hang.
    var stoppedStages: [Int] { get }
    /// Ends every stage at once: the teardown of a ring that crashed or hung.
    func kill()
    /// Sends shutdown around the ring and waits up to `graceSeconds` for the stages to end.
    func shutdown(graceSeconds: Double)
}

/// How an engine starts a ring for a configuration.
public struct RingLauncher: Sendable {
    public let start: @Sendable (RingConfiguration, Logger) throws -> any RingExecutor

    public init(start: @escaping @Sendable (RingConfiguration, Logger) throws -> any RingExecutor) { self.start = start }

    /// A process per stage (`pipeserve stage …` of `RingConfiguration.executable`).
    public static let processes = RingLauncher { try StageRing(configuration: $0, logger: $1) }
}

/// How one stage of a ring ended, for naming the stage whose end broke the ring.
public struct StageExit: Sendable, Equatable {
    public var index: Int
    public var status: Int32
    /// Killed (a signal, or crashed on purpose in process): the cause rather than a consequence.
    public var killed: Bool
    /// When it was seen to end (monotonic ns).
    public var time: UInt64

    public init(index: Int, status: Int32, killed: Bool, time: UInt64) {
        self.index = index; self.status = status; self.killed = killed; self.time = time
    }

    /// The stage that broke the ring among those that ended: a killed one if any, else the
    /// earliest (its neighbours end after it when their links close).
    public static func cause(_ exits: [StageExit]) -> StageExit? {
        exits.min { a, b in a.killed != b.killed ? a.killed : a.time < b.time }
    }

    /// Waits up to `seconds` for the cause: a stage ending cleanly (status 0) is usually the
    /// consequence — it saw its upstream link close — so it is returned only if no stage ended
    /// otherwise within the wait.
    public static func waitForCause(seconds: Double, _ exits: () -> [StageExit]) -> (index: Int, status: Int32)? {
        let deadline = Date().addingTimeInterval(seconds)
        while true {
            let c = cause(exits())
            if let c, c.status != 0 || Date() >= deadline { return (c.index, c.status) }
            if Date() >= deadline { return nil }
            usleep(5_000)
        }
    }
}
