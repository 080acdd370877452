import Foundation
import ServingTypes
import Testing
import WireProtocol
@testable import Coordinator

/// Start-up failures name the stage and the reason; a dead stage is noticed and named; stages die
/// with their coordinator and leave nothing that breaks the next start.
@Suite(.serialized) struct StageLifetimeTests {
    @Test func aStageThatCannotStartIsNamedWithItsReason() throws {
        let model = try Ring.model("tiny-llama")
        do {
            let ring = try Ring.start(model: model, counts: [2, 2]) { c in c.stages[1].numaNode = 7 }
            ring.shutdown()
            Issue.record("a stage bound to NUMA node 7 started")
        } catch let e as RingError {
            let text = "\(e)"
            #expect(text.contains("stage 1") && text.contains("NUMA node 7"), "\(text)")
        }
    }

    @Test func aMissingExecutableFailsCleanly() throws {
        let model = try Ring.model("tiny-llama")
        #expect(throws: (any Error).self) {
            try Ring.start(model: model, counts: [4]) { c in c.executable = "/nonexistent/pipeserve" }
        }
    }

    @Test func placementIsAppliedAndReportedByEachStage() throws {
        let model = try Ring.model("tiny-llama")
        let ring = try Ring.start(model: model, counts: [2, 2]) { c in
            c.stages[0].cpus = [0]
            c.stages[1].numaNode = 0
        }
        defer { ring.shutdown() }
        let first = try #require(ring.processes[0].ready)
        let second = try #require(ring.processes[1].ready)
        #expect(first.contains("cpus=0 "), "\(first)")
        // MPOL_BIND = 2 on node 0 (mask 0x1); the node's CPUs.
        #expect(second.contains("mempolicy=2 nodes=0x1"), "\(second)")
        #expect(!second.contains("cpus= "))
    }

    @Test func aKilledStageIsDetectedAndNamed() throws {
        let model = try Ring.model("tiny-llama")
        let ring = try Ring.start(model: model, counts: [1, 2, 1])
        defer { ring.shutdown() }
        kill(ring.processes[1].pid, SIGKILL)
        let t0 = Date()
        // A batch into the broken ring: the link breaks, and the stage that died is named (not
        // its neighbour, which exits cleanly once its upstream link closes).
        let batch = WireForwardBatch(batch: BatchID(1), slot: MicroBatchSlot(0), entries: [
            WireBatchEntry(sequence: SequenceID(1), startPosition: 0, count: 3, logits: .last, tokens: [1, 2, 3]),
        ])
        do {
            try ring.send(.forwardBatch(batch))
            while true { if case .sampledTokens = try ring.receive() { break } }
            Issue.record("a batch through a dead stage came back")
        } catch {
            let cause = ring.waitForExitCause(seconds: 1)
            #expect(cause?.index == 1 && cause?.status != 0, "\(String(describing: cause)) after \(error)")
        }
        #expect(Date().timeIntervalSince(t0) < 2.0)
        #expect(ring.exitedStage?.index == 1)
    }

    @Test func stagesDieWithAKilledCoordinatorAndTheNextStartWorks() throws {
        let model = try Ring.model("tiny-llama")
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("psk\(getpid() % 100000)").path
        // A coordinator process (pipeserve generate --stages 2) generating for a long time.
        let p = Process()
        p.executableURL = URL(fileURLWithPath: Ring.executable)
        p.arguments = ["generate", "--model", model, "--prompt", "a b c", "--max-tokens", "200", "--ignore-eos",
                       "--stages", "2", "--json"]
        p.environment = ProcessInfo.processInfo.environment.merging(["XDG_RUNTIME_DIR": base, "RUNTIME_DIRECTORY": base]) { $1 }
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        // Wait for its stage children to appear.
        var children: [Int32] = []
        for _ in 0..<300 where children.count < 2 {
            usleep(20_000)
            children = childPIDs(of: p.processIdentifier)
        }
        #expect(children.count == 2)
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        var alive = children
        for _ in 0..<100 where !alive.isEmpty {
            usleep(20_000)
            alive = alive.filter(processExists)
        }
        #expect(alive.isEmpty, "stages \(alive) outlived their coordinator")
        let stale = (base as NSString).appendingPathComponent("pipeserve-\(p.processIdentifier)-1")
        // The next start removes the dead coordinator's directory and works.
        let ring = try Ring.start(model: model, counts: [2, 2]) { c in c.runtimeBase = base }
        #expect(!FileManager.default.fileExists(atPath: stale))
        ring.shutdown()
    }

    func childPIDs(of pid: Int32) -> [Int32] {
        guard let tasks = try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task") else { return [] }
        var out: [Int32] = []
        for t in tasks {
            if let s = try? String(contentsOfFile: "/proc/\(pid)/task/\(t)/children", encoding: .utf8) {
                out += s.split(separator: " ").compactMap { Int32($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
            }
        }
        return out
    }
}
