import Testing
import Tokenization
@testable import Coordinator

/// The one output path: ids in, client text out — detokenizer, stop strings and the final flush.
@Suite struct OutputProcessorTests {
    /// A byte-level vocabulary whose tokens are written in GPT-2's byte-to-character mapping:
    /// each printable ASCII character, "é" as its two bytes, and one token "STOP" + 0xE2 (the
    /// first byte of a three-byte character), as byte-level BPE vocabularies do have.
    static let tokenizer: Tokenizer = {
        let ascii = (0x21...0x7E).map { String(UnicodeScalar(UInt8($0))) }
        // 0xC3 0xA9 = "é"; GPT-2 maps byte 0xC3 to "Ã" and 0xA9 to "©", 0xE2 to "â", space to "Ġ".
        let tokens = ascii + ["Ġ", "Ã", "©", "STOPâ", "<|end|>"]
        var types = [Int32](repeating: 1, count: tokens.count)
        types[types.count - 1] = 3
        let v = TokenizerVocabulary(model: .gpt2, pre: "gpt-2", tokens: tokens, tokenTypes: types, merges: [],
                                    eosID: Int32(tokens.count - 1))
        return try! Tokenizer(vocabulary: v)  // a fixed, valid test vocabulary
    }()

    static func id(_ text: String) -> Int32 {
        for i in 0..<tokenizer.vocabularySize where tokenizer.tokenText(Int32(i)) == text { return Int32(i) }
        return -1
    }

    func run(_ pieces: [String], stops: [String], finish: Bool = true) -> (text: String, stopped: Bool) {
        var p = OutputProcessor(tokenizer: Self.tokenizer, stopStrings: stops)
        var out = ""
        for piece in pieces {
            out += p.append(Self.id(piece))
            if p.stopped { break }
        }
        if finish { out += p.finish() }
        return (out, p.stopped)
    }

    @Test func textPassesThroughWithoutStops() {
        #expect(run(["a", "Ġ", "b"], stops: []) == ("a b", false))
    }

    @Test func stopStringAcrossTokensIsCut() {
        #expect(run(["a", "S", "T", "O", "P", "b"], stops: ["STOP"]) == ("a", true))
    }

    /// Bytes the detokenizer holds back must not slip out after a stop string: "STOP" + 0xE2 ends
    /// the text at the stop; the held 0xE2 (U+FFFD once flushed) is never sent. Before, the
    /// engine flushed the detokenizer outside the matcher at the end and sent it.
    @Test func bytesHeldBackAfterAStopStringNeverReachTheClient() {
        let r = run(["a", "STOPâ"], stops: ["STOP"])
        #expect(r.text == "a" && r.stopped, "\(r)")
        #expect(!r.text.contains("\u{FFFD}"))
    }

    /// The final flush goes through the matcher: held text plus the detokenizer's tail can
    /// complete a stop string at the very end.
    @Test func theFinalFlushIsMatchedToo() {
        // "x" then "STOPâ" with stop "P\u{FFFD}": the 0xE2 only becomes U+FFFD at the flush.
        let r = run(["x", "STOPâ"], stops: ["P\u{FFFD}"])
        #expect(r.text == "xSTO" && r.stopped, "\(r)")
    }

    @Test func aMultiByteCharacterComesOutWhole() {
        var p = OutputProcessor(tokenizer: Self.tokenizer, stopStrings: [])
        #expect(p.append(Self.id("Ã")) == "")
        #expect(p.append(Self.id("©")) == "é")
    }

    @Test func heldTextIsReleasedAtTheEnd() {
        // "S" could start "STOP": held back, then released when the sequence ends otherwise.
        #expect(run(["a", "S"], stops: ["STOP"]) == ("aS", false))
    }
}

/// Stop strings over text that arrives in token-sized pieces.
@Suite struct StopStringMatcherTests {
    func feed(_ pieces: [String], stops: [String], include: Bool = false, flush: Bool = true) -> ([String], Bool) {
        var m = StopStringMatcher(stopStrings: stops, includeStopInOutput: include)
        var out: [String] = []
        for piece in pieces {
            switch m.append(piece) {
            case let .emit(t): if !t.isEmpty { out.append(t) }
            case let .stopped(t):
                if !t.isEmpty { out.append(t) }
                return (out, true)
            }
        }
        if flush { let t = m.flush(); if !t.isEmpty { out.append(t) } }
        return (out, false)
    }

    @Test func stopStringAcrossTwoPiecesIsHeldBackThenCut() {
        #expect(feed(["Hello S", "TOP and more"], stops: ["STOP"]) == (["Hello "], true))
    }

    @Test func stopStringAcrossThreePieces() {
        #expect(feed(["ab</", "st", "op>cd"], stops: ["</stop>"]) == (["ab"], true))
    }

    @Test func stopStringCanBeIncluded() {
        #expect(feed(["ab</", "st", "op>cd"], stops: ["</stop>"], include: true).0.joined() == "ab</stop>")
    }

    @Test func heldTextIsReleasedWhenItTurnsOutNotToBeAStop() {
        #expect(feed(["a S", "TX", "b"], stops: ["STOP"]) == (["a ", "STX", "b"], false))
    }

    @Test func earliestOfSeveralStopStringsWins() {
        #expect(feed(["a", "xybxyz"], stops: ["xyz", "b"]).0.joined() == "axy")
    }

    @Test func multiByteStopStringMatchesOnScalarBoundaries() {
        #expect(feed(["caf", "é", "! ok"], stops: ["é!"]) == (["caf"], true))
    }

    @Test func emptyPiecesEmitNothing() {
        #expect(feed(["", "x", ""], stops: []) == (["x"], false))
    }
}
