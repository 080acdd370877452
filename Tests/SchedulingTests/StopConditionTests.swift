import Testing
@testable import Scheduling
import ServingTypes

/// Feeds one request through a one-slot scheduler, answering its samples with `tokens` in order.
func generate(_ r: SequenceRequest, tokens: [Int32], context: Int = 256) -> [SchedulerEvent] {
    var s = makeScheduler(config(m: 1, batchTokens: 64, context: context))
    submitOK(&s, r)
    var events: [SchedulerEvent] = []
    var i = 0
    while let b = s.nextBatch(for: SlotIndex(0)) {
        let samples = b.entries.filter(\.wantsSample).map { e -> SampledToken in
            let t = i < tokens.count ? tokens[i] : 1
            i += 1
            return SampledToken(sequence: e.sequence, token: t)
        }
        events += s.complete(batch: b.id, samples: samples)
    }
    #expect(s.isIdle && s.kvTokensUsed == 0)
    return events
}

/// The scheduler decides on ids and lengths only (stop strings are the coordinator's output
/// processing, which ends a sequence with `stop(_:)`).
@Suite struct StopConditionTests {
    @Test func stopTokenEnds() {
        let ev = generate(request(1, prompt: 3, maxTokens: 10, stopTokens: [2]), tokens: [10, 11, 2])
        #expect(tokens(ev, for: 1).map(\.1) == [0, 1, 2])
        #expect(finish(ev, for: 1)! == (.stop, Usage(promptTokens: 3, completionTokens: 3)))
        #expect(freed(ev).count == 1)
    }

    @Test func maxTokensEndsWithLength() {
        let ev = generate(request(1, prompt: 4, maxTokens: 3), tokens: [10, 11, 12, 13])
        #expect(tokens(ev, for: 1).map(\.0) == [10, 11, 12])
        #expect(finish(ev, for: 1)! == (.length, Usage(promptTokens: 4, completionTokens: 3)))
    }

    @Test func stopOnTheLastAllowedTokenIsAStop() {
        let ev = generate(request(1, prompt: 4, maxTokens: 2, stopTokens: [9]), tokens: [10, 9])
        #expect(finish(ev, for: 1)?.0 == .stop)
    }

    /// A stop string found by the output processing: `stop` ends the running sequence as
    /// finished (not cancelled) and frees its KV.
    @Test func stopEndsARunningSequenceAsFinished() {
        var s = makeScheduler(config(m: 1, batchTokens: 64))
        submitOK(&s, request(1, prompt: 3, maxTokens: 10))
        let b = s.nextBatch(for: SlotIndex(0))!
        _ = s.complete(batch: b.id, samples: [SampledToken(sequence: SequenceID(1), token: 10)])
        let ev = s.stop(SequenceID(1))
        #expect(finish(ev, for: 1)! == (.stop, Usage(promptTokens: 3, completionTokens: 1)))
        #expect(freed(ev) == [SequenceID(1)])
        #expect(s.isIdle && s.kvTokensUsed == 0 && s.counters.finished == 1 && s.counters.cancelled == 0)
        #expect(s.stop(SequenceID(1)).isEmpty)  // unknown or ended: nothing
    }
}

@Suite struct ContextLengthTests {
    @Test func aSequenceReachingTheContextLengthEndsWithLength() {
        let ev = generate(request(1, prompt: 6, maxTokens: 4), tokens: (0 ..< 10).map { Int32(10 + $0) }, context: 10)
        #expect(finish(ev, for: 1)! == (.length, Usage(promptTokens: 6, completionTokens: 4)))
    }
}
