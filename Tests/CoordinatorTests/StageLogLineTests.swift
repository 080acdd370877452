import Testing
@testable import Coordinator

/// Stage stderr lines logged through the coordinator's logger at the stage's own level.
@Suite struct StageLogLineTests {
    @Test func aStageLogLineKeepsItsLevelAndLosesItsTimestamp() {
        let l = StageLogLine("2026-12-07T12:00:00+0000 warning pipeserve : stage.index=1 [StageWorker] refused a connection")
        #expect(l.level == .warning && l.isLogLine)
        #expect(l.text == "stage.index=1 [StageWorker] refused a connection")
    }

    @Test func anythingElseIsAnError() {
        for line in ["Fatal error: Index out of range", "2026-12-07 loud pipeserve : x", "", "a b c"] {
            let l = StageLogLine(line)
            #expect(l.level == .error && !l.isLogLine && l.text == line)
        }
    }
}
