import Scheduling
import ServingTypes
import Testing
import Tokenization
import WireProtocol
@testable import Coordinator

/// The engine's request and batch logic, step by step, without processes or sockets: batches go
/// out as messages, sampled tokens come back as messages, and the actions say what each
/// sequence's handler hears. (The process tests check the same behaviour through real stages.)
@Suite struct EngineCoreTests {
    static let tokenizer = OutputProcessorTests.tokenizer
    static func id(_ text: String) -> Int32 { OutputProcessorTests.id(text) }
    static let eos = Int32(tokenizer.vocabularySize - 1)

    func core(microBatches: Int = 1, queue: Int = 8) throws -> EngineCore {
        let c = SchedulerConfiguration(microBatches: microBatches, maxBatchTokens: 64, kvCacheTokens: 1024, maxQueue: queue,
                                       maxRunning: 8, contextLength: 256)
        return EngineCore(scheduler: try Scheduler(configuration: c), tokenizer: Self.tokenizer)
    }

    func request(_ id: UInt64, maxTokens: Int = 8, stops: [String] = [], ignoreEOS: Bool = false, topLogprobs: Int = 0) -> PipelineEngine.Request {
        var s = SamplingParameters.greedy
        s.seed = id
        return PipelineEngine.Request(id: SequenceID(id), requestID: RequestID("cmpl-\(id)"), prompt: [Self.id("h"), Self.id("i")],
                                      stop: StopConditions(maxTokens: maxTokens, stopStrings: stops, ignoreEOS: ignoreEOS),
                                      sampling: s, topLogprobs: topLogprobs)
    }

    /// The forward batches among the actions.
    func batches(_ actions: [EngineCore.Action]) -> [WireForwardBatch] {
        actions.compactMap { if case let .send(.forwardBatch(b)) = $0 { b } else { nil } }
    }

    /// What the handlers hear, as short strings: "1:tok", "1:text:é", "1:finished:stop:2", "1:failed", "1:refused".
    func heard(_ actions: [EngineCore.Action]) -> [String] {
        actions.compactMap {
            guard case let .emit(id, e) = $0 else { return nil }
            switch e {
            case .token: return "\(id.rawValue):tok"
            case let .text(t): return "\(id.rawValue):text:\(t)"
            case let .finished(r, u): return "\(id.rawValue):finished:\(r.rawValue):\(u.completionTokens)"
            case .failed: return "\(id.rawValue):failed"
            case .refused: return "\(id.rawValue):refused"
            }
        }
    }

    /// Answers every sampling entry of `b` with `token`.
    func answer(_ b: WireForwardBatch, _ token: (WireBatchEntry) -> Int32) -> WireSampledTokens {
        WireSampledTokens(batch: b.batch, slot: b.slot, tokens: b.entries.filter { $0.logits == .last }.map {
            WireSampledToken(sequence: $0.sequence, token: token($0), logprob: -0.5)
        })
    }

    /// Runs one sequence to its end, answering its samples with `tokens` in order.
    func run(_ r: PipelineEngine.Request, tokens: [Int32]) throws -> [String] {
        var c = try core()
        var out = heard(c.submit(r))
        var i = 0
        for _ in 0..<50 {
            let sent = c.nextBatches(at: 0)
            out += heard(sent)
            guard let b = batches(sent).first else { break }
            let reply = answer(b) { _ in defer { i += 1 }; return i < tokens.count ? tokens[i] : Self.id("z") }
            out += heard(c.sampled(reply, at: 0)?.actions ?? [])
        }
        #expect(c.sequences.isEmpty && c.inFlight.isEmpty && c.scheduler.isIdle)
        return out
    }

    @Test func theBatchCarriesTheRequestsSamplingAndItsTokenIndex() throws {
        var c = try core()
        _ = c.submit(request(7, topLogprobs: 3))
        let b = try #require(batches(c.nextBatches(at: 5)).first)
        #expect(b.entries.count == 1)
        let e = b.entries[0]
        #expect(e.sequence == SequenceID(7) && e.sampling.seed == 7 && e.sampling.temperature == 0 && e.topLogprobs == 3)
        #expect(e.tokenIndex == 0 && e.logits == .last && e.tokens == [Self.id("h"), Self.id("i")])
        #expect(c.inFlight[b.batch.rawValue]?.sentAt == 5)
        // The first chunk names the API request for the stages' log lines; later batches do not.
        #expect(e.requestLabel == "cmpl-7")
        _ = c.sampled(answer(b) { _ in Self.id("a") }, at: 0)
        let next = try #require(batches(c.nextBatches(at: 6)).first)
        #expect(next.entries[0].startPosition == 2 && next.entries[0].requestLabel.isEmpty)
    }

    @Test func tokensTextAndLengthFinish() throws {
        let out = try run(request(1, maxTokens: 3), tokens: [Self.id("a"), Self.id("Ġ"), Self.id("b")])
        #expect(out == ["1:tok", "1:text:a", "1:tok", "1:text: ", "1:tok", "1:text:b", "1:finished:length:3"])
    }

    /// An end-of-generation token ends the sequence and shows no text.
    @Test func anEndOfGenerationTokenStopsWithoutText() throws {
        let out = try run(request(1, maxTokens: 5), tokens: [Self.id("a"), Self.eos])
        #expect(out == ["1:tok", "1:text:a", "1:tok", "1:finished:stop:2"])
        // ignore_eos: it is just a token.
        let ignored = try run(request(2, maxTokens: 2, ignoreEOS: true), tokens: [Self.id("a"), Self.eos])
        #expect(ignored.last == "2:finished:length:2")
    }

    /// A stop string found by the output processor ends the sequence as `stop`, its text cut
    /// before the match, and frees its KV — also when it matches on the last allowed token.
    @Test func aStopStringEndsTheSequence() throws {
        let out = try run(request(1, maxTokens: 10, stops: ["ST"]), tokens: [Self.id("a"), Self.id("S"), Self.id("T"), Self.id("b")])
        #expect(out == ["1:tok", "1:text:a", "1:tok", "1:tok", "1:finished:stop:3"])
        let last = try run(request(2, maxTokens: 3, stops: ["ST"]), tokens: [Self.id("a"), Self.id("S"), Self.id("T")])
        #expect(last.last == "2:finished:stop:3")
    }

    /// Bytes after a stop string never reach the client (the detokenizer's held-back tail is
    /// flushed through the matcher).
    @Test func nothingAfterAStopStringIsSent() throws {
        let out = try run(request(1, maxTokens: 10, stops: ["STOP"]), tokens: [Self.id("a"), Self.id("STOPâ")])
        #expect(out == ["1:tok", "1:text:a", "1:tok", "1:finished:stop:2"])
    }

    @Test func cancellationFreesAndEndsQuietly() throws {
        var c = try core()
        _ = c.submit(request(1))
        _ = c.nextBatches(at: 0)
        let actions = c.cancel(SequenceID(1))
        #expect(actions.contains { if case .send(.freeSequences([SequenceID(1)])) = $0 { true } else { false } })
        #expect(heard(actions) == ["1:finished:cancelled:0"])
        #expect(c.sequences.isEmpty)
    }

    /// A stage that rejects a batch fails its sequences only; the next batch goes out.
    @Test func aRejectedBatchFailsOnlyItsSequences() throws {
        var c = try core(microBatches: 2)
        _ = c.submit(request(1))
        _ = c.submit(request(2))
        let sent = batches(c.nextBatches(at: 0))
        #expect(sent.count == 2)
        let bad = try #require(sent.first { $0.entries.contains { $0.sequence == SequenceID(1) } })
        let report = WireErrorReport(origin: .stage(StageIndex(0)), code: .internalFailure, batch: bad.batch, message: "bad token")
        let result = c.batchFailed(report)
        let failed = try #require(result)
        #expect(heard(failed.actions) == ["1:failed"])
        #expect(c.sequences.keys.map(\.rawValue) == [2])
        // A report that names no batch in flight is not a batch failure: the ring is in doubt.
        let unnamed = c.batchFailed(WireErrorReport(origin: .stage(StageIndex(1)), code: .internalFailure, message: "?"))
        #expect(unnamed == nil)
    }

    /// After a restart every running sequence is recomputed: its next batch is a prefill of its
    /// prompt and generated tokens, sampling the next token index.
    @Test func requeuedSequencesAreRecomputedFromTheirTokens() throws {
        var c = try core()
        _ = c.submit(request(1))
        let b1 = try #require(batches(c.nextBatches(at: 0)).first)
        _ = c.sampled(answer(b1) { _ in Self.id("a") }, at: 0)
        #expect(c.requeueRunning() == 1 && c.inFlight.isEmpty)
        let b2 = try #require(batches(c.nextBatches(at: 0)).first)
        #expect(b2.entries[0].tokens == [Self.id("h"), Self.id("i"), Self.id("a")] && b2.entries[0].tokenIndex == 1)
        // A late answer for the lost batch is ignored.
        let late = c.sampled(answer(b1) { _ in Self.id("b") }, at: 0)
        #expect(late == nil)
    }

    @Test func aFailedServiceRefusesEverything() throws {
        var c = try core()
        _ = c.submit(request(1))
        #expect(heard(c.fail("budget spent")) == ["1:refused"])
        #expect(heard(c.submit(request(2))) == ["2:refused"])
        #expect(c.sequences.isEmpty)
    }

    @Test func aFullQueueRefusesAndAnInvalidRequestFails() throws {
        var c = try core(queue: 1)
        _ = c.submit(request(1))
        #expect(heard(c.submit(request(2))) == ["2:refused"])
        var d = try core()
        #expect(heard(d.submit(request(3, maxTokens: 0))) == ["3:failed"])
    }

    /// A constrained request: its constraint (with the prompt length and ignore_eos) rides on its
    /// first entry of each admission only, again after a restart; its end-of-generation token
    /// ends it even with ignore_eos (the last stage sends one only where the constraint allows).
    @Test func aConstraintTravelsWithEachAdmissionsFirstEntry() throws {
        var c = try core()
        var r = request(1, maxTokens: 8, ignoreEOS: true)
        r.constraint = .jsonSchema(schema: #"{"type":"boolean"}"#, strict: true)
        _ = c.submit(r)
        let b1 = try #require(batches(c.nextBatches(at: 0)).first)
        let expected = WireConstraint(constraint: .jsonSchema(schema: #"{"type":"boolean"}"#, strict: true), promptLength: 2, ignoresEOS: true)
        #expect(b1.entries[0].constraint == expected)
        _ = c.sampled(answer(b1) { _ in Self.id("a") }, at: 0)
        let b2 = try #require(batches(c.nextBatches(at: 0)).first)
        #expect(b2.entries[0].constraint == nil && b2.entries[0].startPosition == 2)
        #expect(c.requeueRunning() == 1)
        let b3 = try #require(batches(c.nextBatches(at: 0)).first)
        #expect(b3.entries[0].constraint == expected && b3.entries[0].startPosition == 0 && b3.entries[0].tokenIndex == 1)
        let end = heard(c.sampled(answer(b3) { _ in Self.eos }, at: 0)?.actions ?? [])
        #expect(end == ["1:tok", "1:finished:stop:2"], "\(end)")
        #expect(c.sequences.isEmpty)
    }

    /// The last stage found no allowed token: the stand-in token shows no text and the sequence
    /// ends as incomplete (`length`), whatever the token is.
    @Test func aDeadConstraintEndsTheSequenceAsLength() throws {
        for standIn in [Self.eos, Self.id("z")] {
            var c = try core()
            var r = request(1, ignoreEOS: true)
            r.constraint = .jsonObject
            _ = c.submit(r)
            let b = try #require(batches(c.nextBatches(at: 0)).first)
            let reply = WireSampledTokens(batch: b.batch, slot: b.slot,
                                          tokens: [WireSampledToken(sequence: SequenceID(1), token: standIn, constraintDead: true)])
            #expect(heard(c.sampled(reply, at: 0)?.actions ?? []) == ["1:tok", "1:finished:length:1"])
            #expect(c.sequences.isEmpty && c.scheduler.isIdle)
        }
    }

    @Test func aConstraintLongerThanTheWireAllowsFailsItsRequest() throws {
        var c = try core()
        var r = request(1)
        r.constraint = .grammar("root ::= \"" + String(repeating: "a", count: WireConstraint.maxSourceBytes) + "\"")
        #expect(heard(c.submit(r)) == ["1:failed"])
    }
}
