import Tokenization

/// One sequence's output path: sampled token ids in, the text a client may see out.
///
/// The scheduler decides on ids and lengths (stop tokens, max_tokens, context); everything about
/// text lives here, once: the streaming detokenizer (never half a UTF-8 character), the stop-string
/// matcher (text that could still start a stop string is held back; the text is cut before a
/// match), and the final flush — which goes through the matcher too, so no byte after a stop
/// string reaches the client even when the detokenizer's held-back tail completes one.
struct OutputProcessor {
    private var detokenizer: StreamingDetokenizer
    private var matcher: StopStringMatcher
    /// A stop string matched: nothing more is emitted.
    private(set) var stopped = false

    init(tokenizer: Tokenizer, stopStrings: [String], includeStopInOutput: Bool = false) {
        detokenizer = StreamingDetokenizer(tokenizer: tokenizer)
        matcher = StopStringMatcher(stopStrings: stopStrings, includeStopInOutput: includeStopInOutput)
    }

    /// Text made safe by a generated token (not an end-of-generation token, whose text is never
    /// shown); sets `stopped` when a stop string matched, in which case the sequence must end.
    mutating func append(_ token: Int32) -> String {
        guard !stopped else { return "" }
        return feed(detokenizer.append(token))
    }

    /// The rest of the text when the sequence ends for any reason but cancellation: the
    /// detokenizer's held-back bytes pass through the stop matcher, then whatever it still holds.
    mutating func finish() -> String {
        guard !stopped else { return "" }
        let text = feed(detokenizer.flush())
        return stopped ? text : text + matcher.flush()
    }

    private mutating func feed(_ piece: String) -> String {
        switch matcher.append(piece) {
        case let .emit(text):
            return text
        case let .stopped(text):
            stopped = true
            return text
        }
    }
}
