import Foundation
import GGUF
import Scheduling
import ServingTypes
import Testing
import Tokenization
import WireProtocol
@testable import Coordinator
@testable import ModelRuntime

/// Continuous batching through the ring: many requests at once, in micro-batches whose
/// composition changes every iteration, must each produce exactly what they produce alone.
@Suite(.serialized) struct PipelineEngineTests {
    final class Outcome: @unchecked Sendable {
        // Sendable: guarded by `cond`.
        let cond = NSCondition()
        var tokens: [SequenceID: [Int32]] = [:]
        var text: [SequenceID: String] = [:]
        var finished: [SequenceID: FinishReason] = [:]
        var failed: [SequenceID: String] = [:]
        /// Called (on the engine thread) after each token with the request and its token count.
        var onToken: (@Sendable (SequenceID, Int) -> Void)?

        func handler(_ id: SequenceID) -> PipelineEngine.Handler {
            { event in
                self.cond.lock(); defer { self.cond.unlock() }
                switch event {
                case let .token(t, _, _, _):
                    self.tokens[id, default: []].append(t)
                    if let hook = self.onToken { hook(id, self.tokens[id]!.count) }
                case let .text(s): self.text[id, default: ""] += s
                case let .finished(r, _): self.finished[id] = r; self.cond.broadcast()
                case let .failed(why), let .refused(why, _): self.failed[id] = why; self.cond.broadcast()
                }
            }
        }

        func wait(for n: Int, seconds: Double = 60) -> Bool {
            cond.lock(); defer { cond.unlock() }
            let deadline = Date().addingTimeInterval(seconds)
            while finished.count + failed.count < n { if !cond.wait(until: deadline) { return false } }
            return true
        }
    }

    static func engine(_ model: String, counts: [Int], microBatches: Int, maxBatchTokens: Int = 16, maxQueue: Int = 64,
                       kv: Int = 4096, maxRunning: Int = 64, recovery: RecoveryPolicy = RecoveryPolicy(),
                       contextLength: Int = 256) throws -> PipelineEngine {
        let tokenizer = try Tokenizer(gguf: try GGUFFile(path: model))
        let config = SchedulerConfiguration(microBatches: microBatches, maxBatchTokens: maxBatchTokens, kvCacheTokens: kv,
                                            maxQueue: maxQueue, maxRunning: maxRunning, contextLength: contextLength)
        let e = try PipelineEngine(ringConfiguration: Ring.configuration(model: model, counts: counts), scheduler: config,
                                   tokenizer: tokenizer, recovery: recovery, trace: true, logger: ringLogger)
        try e.start()
        return e
    }

    func engine(_ model: String, counts: [Int], microBatches: Int, maxBatchTokens: Int = 16, maxQueue: Int = 64,
                kv: Int = 4096) throws -> PipelineEngine {
        try Self.engine(model, counts: counts, microBatches: microBatches, maxBatchTokens: maxBatchTokens, maxQueue: maxQueue, kv: kv)
    }

    func prompt(_ i: Int) -> [Int32] { [1] + (0..<(5 + i % 7)).map { Int32(3 + (i * 37 + $0 * 11) % 500) } }

    @Test func concurrentRequestsMatchTheirSoloRuns() throws {
        let model = try Ring.model("tiny-gemma3")
        let solo = try LayerRangeModel(file: try GGUFFile(path: model), logger: ringLogger)
        let n = 12
        var expected: [[Int32]] = []
        for i in 0..<n {
            var p = SamplingParameters()
            p.temperature = i % 2 == 0 ? 0 : 0.8
            p.seed = UInt64(100 + i)
            expected.append(try Generator(model: solo).generate(prompt: prompt(i), maxTokens: 10 + i % 5, sampling: p).tokens)
        }
        let engine = try engine(model, counts: [3, 3], microBatches: 2)
        defer { engine.stop() }
        let out = Outcome()
        for i in 0..<n {
            let s = SamplingParameters(temperature: i % 2 == 0 ? 0 : 0.8, seed: UInt64(100 + i))
            engine.submit(.init(id: SequenceID(UInt64(i + 1)), prompt: prompt(i), maxTokens: 10 + i % 5, sampling: s),
                          handler: out.handler(SequenceID(UInt64(i + 1))))
        }
        #expect(out.wait(for: n))
        for _ in 0..<100 where engine.snapshot.running > 0 { usleep(10_000) }
        for i in 0..<n {
            let id = SequenceID(UInt64(i + 1))
            #expect(out.tokens[id] == expected[i], "request \(i)")
            #expect(out.finished[id] == .length)
        }
        let snap = engine.snapshot
        #expect(snap.running == 0 && snap.waiting == 0 && snap.kvTokensUsed == 0)
        #expect(snap.batches > 0 && snap.stageComputeNanoseconds.allSatisfy { $0 > 0 })
        #expect(engine.traceJSON().contains("\"traceEvents\""))
    }

    @Test func cancellationFreesTheSequenceAndOthersContinue() throws {
        let model = try Ring.model("tiny-llama")
        let engine = try engine(model, counts: [2, 2], microBatches: 2)
        defer { engine.stop() }
        let out = Outcome()
        for i in 0..<4 {
            engine.submit(.init(id: SequenceID(UInt64(i + 1)), prompt: prompt(i), maxTokens: 200, sampling: SamplingParameters(temperature: 0)),
                          handler: out.handler(SequenceID(UInt64(i + 1))))
        }
        usleep(20_000)
        engine.cancel(SequenceID(2))
        #expect(out.wait(for: 4))
        #expect(out.finished[SequenceID(2)] == .cancelled)
        for _ in 0..<100 where engine.snapshot.running > 0 { usleep(10_000) }
        #expect([1, 3, 4].allSatisfy { out.finished[SequenceID(UInt64($0))] == .length && out.tokens[SequenceID(UInt64($0))]?.count == 200 })
        let snap = engine.snapshot
        #expect(snap.running == 0 && snap.kvTokensUsed == 0)
    }

    @Test func aFullQueueRejectsWithAReason() throws {
        let model = try Ring.model("tiny-llama")
        // One running sequence at a time, so the others wait and the queue of 2 fills whatever the
        // engine thread's timing (with room to admit everything at once, nothing might be refused).
        let engine = try Self.engine(model, counts: [4], microBatches: 1, maxQueue: 2, maxRunning: 1)
        defer { engine.stop() }
        let out = Outcome()
        var refused = 0
        for i in 0..<6 {
            let accepted = engine.submit(.init(id: SequenceID(UInt64(i + 1)), prompt: prompt(i), maxTokens: 50),
                                         handler: out.handler(SequenceID(UInt64(i + 1))))
            if !accepted { refused += 1 }
        }
        // Refused at once (submit returns false) or by the scheduler (a failed event naming the queue).
        #expect(out.wait(for: 6 - refused))
        #expect(refused + out.failed.count >= 1)
        #expect(out.failed.values.allSatisfy { $0.contains("queue is full") })
    }

    /// A burst is queued as one: the queue's room is counted across it, so exactly the first
    /// `maxQueue` requests are taken and the rest are refused at once.
    @Test func aBurstIsQueuedUpToTheQueuesRoom() throws {
        let model = try Ring.model("tiny-llama")
        let engine = try Self.engine(model, counts: [4], microBatches: 1, maxQueue: 2, maxRunning: 1)
        defer { engine.stop() }
        let out = Outcome()
        let burst = (0..<5).map { i in
            (PipelineEngine.Request(id: SequenceID(UInt64(i + 1)), prompt: prompt(i), maxTokens: 4), out.handler(SequenceID(UInt64(i + 1))))
        }
        #expect(engine.submitAll(burst) == [true, true, false, false, false])
        #expect(out.wait(for: 2))
        #expect(out.failed.isEmpty, "\(out.failed)")
    }

    @Test func aDeadStageWithoutRestartsFailsEveryRequestWithItsName() throws {
        let model = try Ring.model("tiny-llama")
        let engine = try Self.engine(model, counts: [2, 2], microBatches: 2, recovery: RecoveryPolicy(maxRestarts: 0))
        defer { engine.stop() }
        let out = Outcome()
        for i in 0..<3 {
            engine.submit(.init(id: SequenceID(UInt64(i + 1)), prompt: prompt(i), maxTokens: 240), handler: out.handler(SequenceID(UInt64(i + 1))))
        }
        usleep(10_000)
        kill(engine.snapshot.stagePIDs[1], SIGKILL)
        #expect(out.wait(for: 3, seconds: 5))
        #expect(out.failed.count == 3 && out.failed.values.allSatisfy { $0.contains("stage 1") }, "\(out.failed)")
        #expect(engine.failure?.contains("stage 1 exited") == true, "\(String(describing: engine.failure))")
        // Later requests fail at once with the same reason.
        engine.submit(.init(id: SequenceID(9), prompt: prompt(9), maxTokens: 4), handler: out.handler(SequenceID(9)))
        #expect(out.wait(for: 4, seconds: 5))
        #expect(out.failed[SequenceID(9)]?.contains("stage 1") == true)
    }
}

extension PipelineEngineTests {
    @Test func aBatchAStageRejectsFailsOnlyItsRequests() throws {
        let model = try Ring.model("tiny-llama")
        let engine = try engine(model, counts: [2, 2], microBatches: 1)
        defer { engine.stop() }
        let out = Outcome()
        // Token 99999 is outside the 512-token vocabulary: stage 0 rejects the batch.
        engine.submit(.init(id: SequenceID(1), prompt: [1, 99999], maxTokens: 4), handler: out.handler(SequenceID(1)))
        #expect(out.wait(for: 1, seconds: 10))
        #expect(out.failed[SequenceID(1)]?.contains("outside the vocabulary") == true, "\(out.failed)")
        // The ring is still healthy and serves the next request.
        engine.submit(.init(id: SequenceID(2), prompt: prompt(2), maxTokens: 5), handler: out.handler(SequenceID(2)))
        #expect(out.wait(for: 2, seconds: 10))
        #expect(out.finished[SequenceID(2)] == .length && out.tokens[SequenceID(2)]?.count == 5)
        #expect(engine.failure == nil && engine.snapshot.restarts == 0)
    }
}
