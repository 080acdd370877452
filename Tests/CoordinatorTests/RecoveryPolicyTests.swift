import Testing
@testable import Coordinator

struct RecoveryPolicyTests {
    @Test func theBudgetCountsRestartsInASlidingWindow() {
        var b = RestartBudget(policy: RecoveryPolicy(maxRestarts: 2, restartWindowSeconds: 10))
        let answers = [0, 1, 5, 10.5, 10.6].map { b.allow(at: $0) }
        // The third within 10 s is refused; at 10.5 the one at 0 has left the window.
        #expect(answers == [true, true, false, true, false])
        var none = RestartBudget(policy: RecoveryPolicy(maxRestarts: 0))
        let first = none.allow(at: 0)
        #expect(!first)
    }

    @Test func silenceWithWorkOutstandingIsAHang() {
        var l = RingLiveness(timeout: 3, now: 0)
        l.sent(at: 10, wasIdle: true)
        #expect(l.verdict(at: 12, workOutstanding: true) == .alive)
        l.received(at: 12, heartbeat: false)
        #expect(l.verdict(at: 14.9, workOutstanding: true) == .alive)
        #expect(l.verdict(at: 15, workOutstanding: true) == .hung(silentSeconds: 3))
    }

    @Test func anIdleRingIsProbedWithHeartbeats() {
        var l = RingLiveness(timeout: 3, now: 0)
        #expect(l.verdict(at: 0.5, workOutstanding: false) == .alive)
        #expect(l.verdict(at: 1, workOutstanding: false) == .sendHeartbeat)
        l.heartbeatSent(at: 1)
        #expect(l.verdict(at: 3.9, workOutstanding: false) == .alive)
        #expect(l.verdict(at: 4, workOutstanding: false) == .hung(silentSeconds: 3))
        l.received(at: 2, heartbeat: true)
        #expect(l.verdict(at: 2.5, workOutstanding: false) == .alive)
        #expect(RingLiveness(timeout: 0, now: 0).verdict(at: 1e9, workOutstanding: true) == .alive)
    }
}
