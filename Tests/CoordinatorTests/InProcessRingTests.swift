import Foundation
import GGUF
import InProcessRing
import Scheduling
import ServingTypes
import Testing
import Tokenization
import WireProtocol
@testable import Coordinator

/// The engine on an in-process ring (the stage code on threads, the same sockets and frames):
/// output, crash and hang recovery, the restart budget and repartitioning, in a fraction of the
/// time the process ring takes — and with the same outcomes, which RecoveryTests checks there.
@Suite(.serialized) struct InProcessRingTests {
    typealias Outcome = PipelineEngineTests.Outcome
    typealias R = RecoveryTests

    /// The rings an engine has started, newest last (for crashing or pausing their stages).
    final class Rings: @unchecked Sendable {
        // Sendable: guarded by `lock`.
        private let lock = NSLock()
        private var all: [ThreadRing] = []
        func add(_ r: ThreadRing) { lock.lock(); all.append(r); lock.unlock() }
        var current: ThreadRing { lock.lock(); defer { lock.unlock() }; return all.last! }
        var count: Int { lock.lock(); defer { lock.unlock() }; return all.count }
    }

    static func engine(_ model: String, counts: [Int], microBatches: Int, recovery: RecoveryPolicy = RecoveryPolicy(),
                       rings: Rings = Rings()) throws -> PipelineEngine {
        let config = SchedulerConfiguration(microBatches: microBatches, maxBatchTokens: 16, kvCacheTokens: 4096, maxQueue: 64,
                                            maxRunning: 64, contextLength: 256)
        return try started(model, counts: counts, scheduler: config, recovery: recovery, rings: rings)
    }

    /// A started engine on an in-process ring of `counts` layers per stage (every engine test on
    /// threads builds it this way; each chooses its scheduler).
    static func started(_ model: String, counts: [Int], threads: Int = 1, scheduler: SchedulerConfiguration,
                        recovery: RecoveryPolicy = RecoveryPolicy(), rings: Rings = Rings()) throws -> PipelineEngine {
        let tokenizer = try Tokenizer(gguf: try GGUFFile(path: model))
        let e = try PipelineEngine(ringConfiguration: Ring.configuration(model: model, counts: counts, threads: threads), scheduler: scheduler,
                                   tokenizer: tokenizer, recovery: recovery, trace: true, logger: ringLogger,
                                   launcher: ThreadRing.launcher { rings.add($0) })
        try e.start()
        return e
    }

    /// `n` requests through a 3 + 3 layer in-process ring; when request 1 has its `at`-th token,
    /// `disrupt` gets the ring (on the engine thread). Every request must end with its solo tokens.
    static func disrupted(requests n: Int, microBatches: Int, recovery: RecoveryPolicy = RecoveryPolicy(), at: Int,
                          _ disrupt: @escaping @Sendable (ThreadRing) -> Void) throws -> (PipelineEngine, Rings) {
        let model = try Ring.model("tiny-gemma3")
        let expected = try R.expected(model, count: n)
        let rings = Rings()
        let engine = try engine(model, counts: [3, 3], microBatches: microBatches, recovery: recovery, rings: rings)
        let out = Outcome()
        let fired = ManagedAtomicFlag()
        out.onToken = { id, count in if id == SequenceID(1), count == at, fired.setOnce() { disrupt(rings.current) } }
        R.submitAll(engine, out, count: n)
        #expect(out.wait(for: n, seconds: 60))
        R.expectUnchanged(out, expected)
        return (engine, rings)
    }

    @Test func requestsOnAThreadRingMatchTheirSoloRuns() throws {
        let started = Date()
        let (engine, rings) = try Self.disrupted(requests: 8, microBatches: 3, at: -1) { _ in }
        defer { engine.stop() }
        #expect(rings.count == 1 && engine.snapshot.restarts == 0)
        #expect(engine.snapshot.stagePIDs.allSatisfy { $0 > 0 && $0 != getpid() }, "thread ids: \(engine.snapshot.stagePIDs)")
        #expect(Date().timeIntervalSince(started) < 20)
    }

    @Test(arguments: [0, 1])
    func aCrashedStageIsRestartedAndEveryRequestCompletesUnchanged(stage: Int) throws {
        let (engine, rings) = try Self.disrupted(requests: 12, microBatches: 4, at: 8) { $0.crash(stage: stage) }
        defer { engine.stop() }
        let snap = engine.snapshot
        #expect(snap.restarts == 1 && snap.recomputedSequences > 0, "\(snap)")
        #expect(rings.count == 2 && engine.status == .ready)
        for _ in 0..<100 where engine.snapshot.running > 0 { usleep(10_000) }
        #expect(engine.snapshot.running == 0 && engine.snapshot.kvTokensUsed == 0)
    }

    @Test func aPausedStageIsFoundByTheHeartbeatAndRestarted() throws {
        let (engine, rings) = try Self.disrupted(requests: 6, microBatches: 2, recovery: RecoveryPolicy(heartbeatTimeoutSeconds: 0.5),
                                                 at: 5) { $0.pause(stage: 0) }
        defer { engine.stop() }
        #expect(engine.snapshot.restarts == 1 && rings.count == 2)
    }

    @Test func theCrashedStageIsNamed() throws {
        let rings = Rings()
        let engine = try Self.engine(try Ring.model("tiny-llama"), counts: [1, 2, 1], microBatches: 2, rings: rings)
        defer { engine.stop() }
        let first = rings.current
        first.crash(stage: 1)
        #expect(first.waitForExitCause(seconds: 2).map { $0.index == 1 && $0.status == 128 + SIGKILL } == true)
        for _ in 0..<500 where rings.count < 2 || engine.status != .ready { usleep(10_000) }
        #expect(engine.snapshot.restarts == 1 && engine.status == .ready)
    }

    @Test func tooManyCrashesFailTheServiceAndItsRequests() throws {
        let rings = Rings()
        let engine = try Self.engine(try Ring.model("tiny-llama"), counts: [2, 2], microBatches: 2,
                                     recovery: RecoveryPolicy(maxRestarts: 1, restartWindowSeconds: 60), rings: rings)
        defer { engine.stop() }
        rings.current.crash(stage: 0)
        for _ in 0..<500 where rings.count < 2 || engine.status != .ready { usleep(10_000) }
        #expect(engine.snapshot.restarts == 1)
        rings.current.crash(stage: 1)
        for _ in 0..<500 where engine.failure == nil { usleep(10_000) }
        #expect(engine.failure?.contains("2 stage failures within 60 s") == true, "\(engine.failure ?? "")")
        #expect(rings.count == 2)  // no third ring
        // A failed engine refuses new work at once.
        let out = Outcome()
        engine.submit(.init(id: SequenceID(2), prompt: R.prompt(2), maxTokens: 4), handler: out.handler(SequenceID(2)))
        #expect(out.wait(for: 1, seconds: 5) && out.failed[SequenceID(2)] != nil)
    }

    @Test func twoRepartitionsInARowEndOnTheLastAndLoseNothing() throws {
        let model = try Ring.model("tiny-gemma3")
        let n = 10
        let expected = try R.expected(model, count: n)
        let engine = try Self.engine(model, counts: [3, 3], microBatches: 2)
        defer { engine.stop() }
        let out = Outcome()
        let fired = ManagedAtomicFlag()
        let first = ResultBox(), second = ResultBox()
        out.onToken = { id, count in
            guard id == SequenceID(1), count == 6, fired.setOnce() else { return }
            engine.reconfigure(Ring.configuration(model: model, counts: [2, 2, 2]), microBatches: 3) { first.set($0) }
            engine.reconfigure(Ring.configuration(model: model, counts: [1, 5]), microBatches: 1) { second.set($0) }
        }
        R.submitAll(engine, out, count: n)
        #expect(out.wait(for: n, seconds: 60))
        R.expectUnchanged(out, expected)
        #expect(!first.wait())  // superseded before it was applied
        #expect(second.wait())
        let snap = engine.snapshot
        #expect(snap.stageLayers == [0..<1, 1..<6] && snap.microBatches == 1 && snap.restarts == 0, "\(snap)")
    }

    @Test func aPartitionThatCannotStartKeepsTheOldOne() throws {
        let model = try Ring.model("tiny-llama")
        let engine = try Self.engine(model, counts: [2, 2], microBatches: 2)
        defer { engine.stop() }
        // Layers past the model's end: the stage refuses to load them.
        var bad = Ring.configuration(model: model, counts: [2, 2])
        bad.stages[1].layers = 2..<9
        R.expectTheOldPartitionServesAfter(engine, failsToApply: bad)
    }

    @Test func cancellingMidStreamFreesEveryStagesKV() throws {
        let engine = try Self.engine(try Ring.model("tiny-llama"), counts: [2, 2], microBatches: 2)
        defer { engine.stop() }
        let out = Outcome()
        let id = SequenceID(7)
        out.onToken = { seq, count in if seq == id, count == 3 { engine.cancel(id) } }
        engine.submit(.init(id: id, prompt: R.prompt(3), maxTokens: 100_000), handler: out.handler(id))
        #expect(out.wait(for: 1, seconds: 10))
        for _ in 0..<200 where engine.snapshot.kvTokensUsed > 0 || engine.snapshot.running > 0 { usleep(5_000) }
        #expect(engine.snapshot.kvTokensUsed == 0 && engine.snapshot.running == 0)
    }
}
