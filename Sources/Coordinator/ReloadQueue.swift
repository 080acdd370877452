/// Serializes configuration reloads (SIGHUP). Applying a new partition takes seconds; a SIGHUP
/// that arrives meanwhile must not compare the file with settings that are about to change (it
/// would see "unchanged" and be lost). Instead it marks the running reload to be followed by one
/// more, which reads the file again once the first has finished — so a burst of reloads always
/// ends on what the file says last, and bursts collapse into at most one extra pass.
public struct ReloadQueue: Sendable {
    public enum Request: Equatable, Sendable {
        /// Nothing is being applied: read the file and apply it now.
        case start
        /// A reload is running: it will be followed by another pass.
        case queued
    }

    public enum Completion: Equatable, Sendable {
        /// More SIGHUPs came in meanwhile: read the file again now.
        case startAgain
        /// Done: the service is ready again.
        case idle
    }

    private var running = false
    private var again = false

    public init() {}

    /// A reload was asked for.
    public mutating func requested() -> Request {
        if running {
            again = true
            return .queued
        }
        running = true
        return .start
    }

    /// The running reload has finished (applied, unchanged, or failed).
    public mutating func finished() -> Completion {
        guard running else { return .idle }
        if again {
            again = false
            return .startAgain
        }
        running = false
        return .idle
    }

    /// Whether a reload is being applied.
    public var isRunning: Bool { running }
}
