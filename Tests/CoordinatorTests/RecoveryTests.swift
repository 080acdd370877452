import Foundation
import GGUF
import Scheduling
import ServingTypes
import Testing
import Tokenization
import WireProtocol
@testable import Coordinator
@testable import ModelRuntime

/// Stage crashes, hangs and repartitioning: every request completes with exactly the tokens it
/// would have produced without the disruption (greedy and seeded sampling).
@Suite(.serialized) struct RecoveryTests {
    typealias Outcome = PipelineEngineTests.Outcome

    static func prompt(_ i: Int) -> [Int32] { [1] + (0..<(5 + i % 7)).map { Int32(3 + (i * 37 + $0 * 11) % 500) } }
    static func sampling(_ i: Int) -> SamplingParameters { SamplingParameters(temperature: i % 2 == 0 ? 0 : 0.8, seed: UInt64(100 + i)) }
    static func maxTokens(_ i: Int) -> Int { 30 + i % 5 }

    /// What each request produces alone, in one process.
    static func expected(_ model: String, count n: Int) throws -> [[Int32]] {
        let solo = try LayerRangeModel(file: try GGUFFile(path: model), logger: ringLogger)
        return try (0..<n).map { i in
            var p = SamplingParameters()
            p.temperature = i % 2 == 0 ? 0 : 0.8
            p.seed = UInt64(100 + i)
            return try Generator(model: solo).generate(prompt: prompt(i), maxTokens: maxTokens(i), sampling: p).tokens
        }
    }

    static func submitAll(_ engine: PipelineEngine, _ out: Outcome, count n: Int) {
        for i in 0..<n {
            let id = SequenceID(UInt64(i + 1))
            engine.submit(.init(id: id, prompt: prompt(i), maxTokens: maxTokens(i), sampling: sampling(i)), handler: out.handler(id))
        }
    }

    static func expectUnchanged(_ out: Outcome, _ expected: [[Int32]]) {
        for i in expected.indices {
            let id = SequenceID(UInt64(i + 1))
            #expect(out.failed[id] == nil, "request \(i): \(out.failed[id] ?? "")")
            #expect(out.tokens[id] == expected[i], "request \(i)")
        }
    }

    /// Runs `n` requests through a 3 + 3 layer ring; when request 1 has its `at`-th token,
    /// `disrupt` gets the pid of stage `stage` (on the engine thread). Every request must end
    /// with exactly its solo tokens. Returns the engine (stopped by the caller) and that pid.
    static func disrupted(requests n: Int, microBatches: Int, recovery: RecoveryPolicy = RecoveryPolicy(), stage: Int, at: Int,
                          _ disrupt: @escaping @Sendable (Int32) -> Void) throws -> (PipelineEngine, Int32) {
        let model = try Ring.model("tiny-gemma3")
        let expected = try expected(model, count: n)
        let engine = try PipelineEngineTests.engine(model, counts: [3, 3], microBatches: microBatches, recovery: recovery)
        let pid = engine.snapshot.stagePIDs[stage]
        let out = Outcome()
        let fired = ManagedAtomicFlag()
        out.onToken = { id, count in if id == SequenceID(1), count == at, fired.setOnce() { disrupt(pid) } }
        submitAll(engine, out, count: n)
        #expect(out.wait(for: n, seconds: 60))
        expectUnchanged(out, expected)
        return (engine, pid)
    }

    @Test(arguments: [0, 1])
    func aKilledStageIsRestartedAndEveryRequestCompletesUnchanged(stage: Int) throws {
        // Killed when request 1 has 8 tokens: the others are mid-prefill or decoding.
        let started = Date()
        let (engine, pid) = try Self.disrupted(requests: 12, microBatches: 4, stage: stage, at: 8) { kill($0, SIGKILL) }
        defer { engine.stop() }
        let snap = engine.snapshot
        #expect(snap.restarts == 1 && snap.recomputedSequences > 0, "\(snap)")
        #expect(snap.stagePIDs[stage] != pid)
        #expect(engine.status == .ready)
        for _ in 0..<100 where engine.snapshot.running > 0 { usleep(10_000) }
        #expect(engine.snapshot.running == 0 && engine.snapshot.kvTokensUsed == 0)
        #expect(Date().timeIntervalSince(started) < 30)
    }

    @Test func aStoppedStageIsFoundByTheHeartbeatAndRestarted() throws {
        let (engine, pid) = try Self.disrupted(requests: 6, microBatches: 2, recovery: RecoveryPolicy(heartbeatTimeoutSeconds: 1),
                                               stage: 0, at: 5) { kill($0, SIGSTOP) }
        defer { engine.stop() }
        #expect(engine.snapshot.restarts == 1)
        #expect(!processExists(pid))  // the stopped stage was killed, not left behind
    }

    @Test func aSlowStageIsNotKilled() throws {
        let (engine, pid) = try Self.disrupted(requests: 4, microBatches: 2, recovery: RecoveryPolicy(heartbeatTimeoutSeconds: 4),
                                               stage: 1, at: 5) { pid in
            kill(pid, SIGSTOP)
            Thread.detachNewThread { usleep(1_500_000); kill(pid, SIGCONT) }
        }
        defer { engine.stop() }
        #expect(engine.snapshot.restarts == 0)
        #expect(engine.snapshot.stagePIDs[1] == pid)
    }

    @Test func tooManyCrashesFailTheService() throws {
        let model = try Ring.model("tiny-llama")
        let engine = try PipelineEngineTests.engine(model, counts: [2, 2], microBatches: 2,
                                                    recovery: RecoveryPolicy(maxRestarts: 1, restartWindowSeconds: 60))
        defer { engine.stop() }
        let out = Outcome()
        engine.submit(.init(id: SequenceID(1), prompt: Self.prompt(1), maxTokens: 200), handler: out.handler(SequenceID(1)))
        kill(engine.snapshot.stagePIDs[0], SIGKILL)
        for _ in 0..<500 where engine.snapshot.restarts < 1 || engine.status != .ready { usleep(10_000) }
        #expect(engine.snapshot.restarts == 1)
        kill(engine.snapshot.stagePIDs[1], SIGKILL)
        #expect(out.wait(for: 1, seconds: 10))
        if case .failed = engine.status {} else { Issue.record("status \(engine.status)") }
        #expect(engine.failure?.contains("2 stage failures within 60 s") == true, "\(engine.failure ?? "")")
        #expect(out.failed[SequenceID(1)] != nil || out.finished[SequenceID(1)] != nil)
    }

    @Test func reconfigureAppliesANewPartitionWithoutLosingRequests() throws {
        let model = try Ring.model("tiny-gemma3")
        let n = 10
        let expected = try Self.expected(model, count: n)
        let engine = try PipelineEngineTests.engine(model, counts: [3, 3], microBatches: 2)
        defer { engine.stop() }
        let out = Outcome()
        let fired = ManagedAtomicFlag()
        let result = ResultBox()
        let newRing = Ring.configuration(model: model, counts: [2, 2, 2])
        out.onToken = { id, count in
            guard id == SequenceID(1), count == 6, fired.setOnce() else { return }
            engine.reconfigure(newRing, microBatches: 3) { result.set($0) }
        }
        Self.submitAll(engine, out, count: n)
        #expect(out.wait(for: n, seconds: 60))
        Self.expectUnchanged(out, expected)
        #expect(result.wait())
        let snap = engine.snapshot
        #expect(snap.stageLayers == [0..<2, 2..<4, 4..<6] && snap.microBatches == 3 && snap.reconfigurations == 1 && snap.restarts == 0)
        // And it serves on the new partition.
        engine.submit(.init(id: SequenceID(99), prompt: Self.prompt(0), maxTokens: Self.maxTokens(0), sampling: Self.sampling(0)),
                      handler: out.handler(SequenceID(99)))
        #expect(out.wait(for: n + 1, seconds: 30))
        #expect(out.tokens[SequenceID(99)] == expected[0])
    }

    @Test func aPartitionThatCannotStartKeepsTheOldOne() throws {
        let model = try Ring.model("tiny-llama")
        let engine = try PipelineEngineTests.engine(model, counts: [2, 2], microBatches: 2)
        defer { engine.stop() }
        var bad = Ring.configuration(model: model, counts: [2, 2])
        bad.executable = "/nonexistent/pipeserve"
        Self.expectTheOldPartitionServesAfter(engine, failsToApply: bad)
    }

    /// `bad` (a partition that cannot start, on an engine running [2, 2]) is refused, and the
    /// engine is ready again on [2, 2] and serves a request.
    static func expectTheOldPartitionServesAfter(_ engine: PipelineEngine, failsToApply bad: RingConfiguration) {
        let result = ResultBox()
        engine.reconfigure(bad, microBatches: 2) { result.set($0) }
        #expect(!result.wait())
        for _ in 0..<500 where engine.status != .ready { usleep(10_000) }
        #expect(engine.status == .ready && engine.snapshot.stageLayers == [0..<2, 2..<4])
        let out = Outcome()
        engine.submit(.init(id: SequenceID(1), prompt: prompt(1), maxTokens: 5), handler: out.handler(SequenceID(1)))
        #expect(out.wait(for: 1, seconds: 10))
        #expect(out.tokens[SequenceID(1)]?.count == 5)
    }
}

/// A flag that is set once, from any thread.
final class ManagedAtomicFlag: @unchecked Sendable {
    // Sendable: guarded by `lock`.
    private let lock = NSLock()
    private var value = false
    /// True for the first caller only.
    func setOnce() -> Bool { lock.lock(); defer { lock.unlock() }; if value { return false }; value = true; return true }
}

/// The outcome of a reconfiguration, waited for by the test.
final class ResultBox: @unchecked Sendable {
    // Sendable: guarded by `cond`.
    private let cond = NSCondition()
    private var value: Bool?
    func set(_ r: Result<Void, any Error>) { cond.lock(); if case .success = r { value = true } else { value = false }; cond.broadcast(); cond.unlock() }
    func wait(seconds: Double = 30) -> Bool {
        cond.lock(); defer { cond.unlock() }
        let deadline = Date().addingTimeInterval(seconds)
        while value == nil { if !cond.wait(until: deadline) { return false } }
        return value!
    }
}
