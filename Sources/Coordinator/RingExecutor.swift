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
