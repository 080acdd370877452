import Testing
@testable import Coordinator

/// A burst of SIGHUPs must end on what the file says last: a reload asked for while another is
/// being applied runs again afterwards instead of being compared with settings about to change.
@Suite struct ReloadQueueTests {
    @Test func aLoneReloadStartsAndEnds() {
        var q = ReloadQueue()
        #expect(q.requested() == .start)
        #expect(q.isRunning)
        #expect(q.finished() == .idle)
        #expect(!q.isRunning)
    }

    @Test func aReloadDuringAReloadRunsOnceMoreAfterIt() {
        var q = ReloadQueue()
        #expect(q.requested() == .start)
        #expect(q.requested() == .queued)
        #expect(q.finished() == .startAgain)
        #expect(q.isRunning)
        #expect(q.finished() == .idle)
        #expect(q.requested() == .start)
    }

    /// 2 → 3 → 1 → 2 in quick succession: one running pass plus exactly one more, which reads the
    /// file as it is by then.
    @Test func aBurstCollapsesIntoOneMorePass() {
        var q = ReloadQueue()
        #expect(q.requested() == .start)
        for _ in 0..<5 { #expect(q.requested() == .queued) }
        #expect(q.finished() == .startAgain)
        #expect(q.requested() == .queued)  // one more during the second pass
        #expect(q.finished() == .startAgain)
        #expect(q.finished() == .idle)
    }

    @Test func finishingWhenIdleDoesNothing() {
        var q = ReloadQueue()
        #expect(q.finished() == .idle)
        #expect(q.requested() == .start)
    }
}
