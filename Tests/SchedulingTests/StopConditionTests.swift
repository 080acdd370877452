import Testing
@testable import Scheduling
import ServingTypes

/// Feeds one request through a one-slot scheduler, answering its samples with `pieces` in order.
func generate(_ r: SequenceRequest, pieces: [(Int32, String)], context: Int = 256) -> [SchedulerEvent] {
    var s = makeScheduler(config(m: 1, batchTokens: 64, context: context))
    submitOK(&s, r)
    var events: [SchedulerEvent] = []
    var i = 0
    while let b = s.nextBatch(for: SlotIndex(0)) {
        let samples = b.entries.filter(\.wantsSample).map { e -> SampledToken in
            let p = i < pieces.count ? pieces[i] : (Int32(1), "?")
            i += 1
            return SampledToken(sequence: e.sequence, token: p.0, text: p.1)
        }
        events += s.complete(batch: b.id, samples: samples)
    }
    #expect(s.isIdle && s.kvTokensUsed == 0)
    return events
}

@Suite struct StopConditionTests {
    @Test func stopTokenEndsWithoutItsText() {
        let ev = generate(request(1, prompt: 3, maxTokens: 10, stopTokens: [2]),
                          pieces: [(10, "Hi"), (11, " there"), (2, "</s>")])
        #expect(texts(ev, for: 1).joined() == "Hi there")
        #expect(tokens(ev, for: 1).map(\.1) == [0, 1, 2])
        #expect(finish(ev, for: 1)! == (.stop, Usage(promptTokens: 3, completionTokens: 3)))
        #expect(freed(ev).count == 1)
    }

    @Test func stopStringAcrossTwoTokensIsHeldBackThenCut() {
        let ev = generate(request(1, prompt: 2, maxTokens: 10, stops: ["STOP"]),
                          pieces: [(10, "Hello S"), (11, "TOP and more")])
        // "S" was held back after the first token; the second completes the stop string.
        #expect(texts(ev, for: 1) == ["Hello "])
        #expect(ev.prefix(2) == [.token(SequenceID(1), token: 10, index: 0), .text(SequenceID(1), "Hello ")])
        #expect(finish(ev, for: 1)?.0 == .stop)
        #expect(finish(ev, for: 1)?.1.completionTokens == 2)
    }

    @Test func stopStringAcrossThreeTokens() {
        let ev = generate(request(1, prompt: 2, maxTokens: 10, stops: ["</stop>"]),
                          pieces: [(10, "ab</"), (11, "st"), (12, "op>cd")])
        #expect(texts(ev, for: 1) == ["ab"])
        #expect(tokens(ev, for: 1).count == 3)
        #expect(finish(ev, for: 1)?.0 == .stop)
    }

    @Test func stopStringCanBeIncluded() {
        let ev = generate(request(1, prompt: 2, maxTokens: 10, stops: ["</stop>"], includeStop: true),
                          pieces: [(10, "ab</"), (11, "st"), (12, "op>cd")])
        #expect(texts(ev, for: 1).joined() == "ab</stop>")
    }

    @Test func heldTextIsReleasedWhenItTurnsOutNotToBeAStop() {
        let ev = generate(request(1, prompt: 2, maxTokens: 3, stops: ["STOP"]),
                          pieces: [(10, "a S"), (11, "TX"), (12, "b")])
        #expect(texts(ev, for: 1) == ["a ", "STX", "b"])
        #expect(finish(ev, for: 1)?.0 == .length)
    }

    @Test func heldTextIsFlushedWhenLengthEnds() {
        let ev = generate(request(1, prompt: 2, maxTokens: 2, stops: ["STOP"]), pieces: [(10, "a S"), (11, "T")])
        #expect(texts(ev, for: 1).joined() == "a ST")
        #expect(finish(ev, for: 1)! == (.length, Usage(promptTokens: 2, completionTokens: 2)))
    }

    @Test func earliestOfSeveralStopStringsWins() {
        let ev = generate(request(1, prompt: 2, maxTokens: 5, stops: ["xyz", "b"]), pieces: [(10, "a"), (11, "xybxyz")])
        #expect(texts(ev, for: 1).joined() == "axy")
    }

    @Test func multiByteStopStringMatchesOnScalarBoundaries() {
        let ev = generate(request(1, prompt: 2, maxTokens: 5, stops: ["é!"]), pieces: [(10, "caf"), (11, "é"), (12, "! ok")])
        #expect(texts(ev, for: 1).joined() == "caf")
        #expect(finish(ev, for: 1)?.0 == .stop)
    }

    @Test func maxTokensEndsWithLength() {
        let ev = generate(request(1, prompt: 4, maxTokens: 3), pieces: [(10, "a"), (11, "b"), (12, "c"), (13, "d")])
        #expect(tokens(ev, for: 1).map(\.0) == [10, 11, 12])
        #expect(texts(ev, for: 1) == ["a", "b", "c"])
        #expect(finish(ev, for: 1)! == (.length, Usage(promptTokens: 4, completionTokens: 3)))
    }

    @Test func stopOnTheLastAllowedTokenIsAStop() {
        let ev = generate(request(1, prompt: 4, maxTokens: 2, stopTokens: [9]), pieces: [(10, "a"), (9, "")])
        #expect(finish(ev, for: 1)?.0 == .stop)
    }

    @Test func emptyPiecesEmitNoTextEvents() {
        let ev = generate(request(1, prompt: 2, maxTokens: 3), pieces: [(10, ""), (11, "x"), (12, "")])
        #expect(texts(ev, for: 1) == ["x"])
        #expect(tokens(ev, for: 1).count == 3)
    }
}

@Suite struct ContextLengthTests {
    @Test func aSequenceReachingTheContextLengthEndsWithLength() {
        let ev = generate(request(1, prompt: 6, maxTokens: 4), pieces: (0 ..< 10).map { (Int32(10 + $0), "x") }, context: 10)
        #expect(finish(ev, for: 1)! == (.length, Usage(promptTokens: 6, completionTokens: 4)))
    }
}
