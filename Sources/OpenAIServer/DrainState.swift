import NIOConcurrencyHelpers

/// What a drain (SIGTERM) needs to know about the HTTP side: how many requests are running
/// (a stream counts until its last byte is written) and whether new ones are being refused.
///
/// While draining the listener stays open and every new request except `/metrics` gets 503
/// `shutting_down` with `Retry-After` and `Connection: close`, which is what a load balancer
/// expects; the listener closes once the last running request has ended.
public final class DrainState: Sendable {
    private struct State {
        var running = 0
        var draining = false
        var idleWaiters: [CheckedContinuation<Void, Never>] = []
    }
    private let state = NIOLockedValueBox(State())

    public init() {}

    /// Whether new requests are being refused.
    public var isDraining: Bool { state.withLockedValue { $0.draining } }

    /// Requests that have started and not yet finished writing their response.
    public var runningRequests: Int { state.withLockedValue { $0.running } }

    func requestStarted() { state.withLockedValue { $0.running += 1 } }

    func requestEnded() {
        let waiters: [CheckedContinuation<Void, Never>] = state.withLockedValue { s in
            s.running = max(0, s.running - 1)
            guard s.running == 0 else { return [] }
            defer { s.idleWaiters = [] }
            return s.idleWaiters
        }
        for waiter in waiters { waiter.resume() }
    }

    /// From now on new requests get 503 `shutting_down`.
    public func startDraining() { state.withLockedValue { $0.draining = true } }

    /// Returns once no request is running, or after `timeoutSeconds` (false then).
    public func waitUntilIdle(timeoutSeconds: Double) async -> Bool {
        await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                    let idle: Bool = self.state.withLockedValue { s in
                        if s.running == 0 { return true }
                        s.idleWaiters.append(continuation)
                        return false
                    }
                    if idle { continuation.resume() }
                }
                return true
            }
            group.addTask {
                try? await Task.sleep(for: .milliseconds(Int64(timeoutSeconds * 1000)))
                return false
            }
            let first = await group.next() ?? false
            if !first {
                // Timed out: release the idle waiter so the group can end.
                let waiters = state.withLockedValue { s in defer { s.idleWaiters = [] }; return s.idleWaiters }
                for waiter in waiters { waiter.resume() }
            }
            group.cancelAll()
            return first
        }
    }
}
