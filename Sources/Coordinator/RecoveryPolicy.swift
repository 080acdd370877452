/// How the engine reacts to a broken ring: restart it and recompute what was in flight, unless
/// stages crashed more than `maxRestarts` times within `restartWindowSeconds` (then the service
/// fails, so systemd can act); a ring that sends nothing back for `heartbeatTimeoutSeconds` while
/// work is outstanding counts as hung and is restarted too.
public struct RecoveryPolicy: Sendable, Equatable {
    /// Restarts allowed within the window; 0 = fail at the first crash.
    public var maxRestarts: Int
    public var restartWindowSeconds: Double
    /// Seconds without any message from the ring, while a batch or heartbeat is outstanding,
    /// after which the ring is declared hung; 0 = no hang detection. Keep it well above the
    /// slowest batch (a full `max_batch_tokens` prefill through the slowest stage).
    public var heartbeatTimeoutSeconds: Double

    public init(maxRestarts: Int = 5, restartWindowSeconds: Double = 300, heartbeatTimeoutSeconds: Double = 30) {
        self.maxRestarts = maxRestarts
        self.restartWindowSeconds = restartWindowSeconds
        self.heartbeatTimeoutSeconds = heartbeatTimeoutSeconds
    }
}

/// Counts restarts in a sliding window (pure; times are seconds on any monotonic clock).
struct RestartBudget: Sendable {
    let policy: RecoveryPolicy
    private(set) var restarts: [Double] = []

    init(policy: RecoveryPolicy) { self.policy = policy }

    /// Records a restart at `now` if the budget allows one; false = too many, give up.
    mutating func allow(at now: Double) -> Bool {
        restarts.removeAll { now - $0 >= policy.restartWindowSeconds }
        guard restarts.count < policy.maxRestarts else { return false }
        restarts.append(now)
        return true
    }
}

/// Hang detection for the ring (pure): the ring is alive while messages come back. When work is
/// outstanding and nothing has come back for the timeout, it is hung. When idle for a third of
/// the timeout, a heartbeat is due, so a stage that stops while idle is found too.
struct RingLiveness: Sendable {
    enum Verdict: Equatable { case alive, sendHeartbeat, hung(silentSeconds: Double) }

    let timeout: Double
    private(set) var lastProgress: Double
    private(set) var heartbeatOutstanding = false

    init(timeout: Double, now: Double) {
        self.timeout = timeout
        self.lastProgress = now
    }

    /// Something came back from the last stage.
    mutating func received(at now: Double, heartbeat: Bool) {
        lastProgress = now
        if heartbeat { heartbeatOutstanding = false }
    }

    /// Work was sent while nothing was outstanding: the silence clock starts now.
    mutating func sent(at now: Double, wasIdle: Bool) {
        if wasIdle && !heartbeatOutstanding { lastProgress = now }
    }

    mutating func heartbeatSent(at now: Double) {
        heartbeatOutstanding = true
        lastProgress = now
    }

    func verdict(at now: Double, workOutstanding: Bool) -> Verdict {
        guard timeout > 0 else { return .alive }
        let silent = now - lastProgress
        if workOutstanding || heartbeatOutstanding {
            return silent >= timeout ? .hung(silentSeconds: silent) : .alive
        }
        return silent >= timeout / 3 ? .sendHeartbeat : .alive
    }
}
