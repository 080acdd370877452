/// Finds stop strings in streamed text that arrives in token-sized pieces, and decides which
/// text is safe to emit.
///
/// It works on UTF-8 bytes: a match of valid UTF-8 inside valid UTF-8 always starts and ends
/// on scalar boundaries, so every cut yields valid strings. After each piece it keeps back the
/// longest tail that is a proper prefix of some stop string ("hold back"); everything before
/// that tail can no longer start a match, so it is emitted and forgotten. The held tail is
/// shorter than the longest stop string, so the work per piece is bounded.
struct StopStringMatcher: Sendable, Equatable {
    private let stops: [[UInt8]]
    private let includeStop: Bool
    /// Text received but not yet emitted.
    private(set) var held: [UInt8] = []

    init(stopStrings: [String], includeStopInOutput: Bool) {
        stops = stopStrings.map { Array($0.utf8) }.filter { !$0.isEmpty }
        includeStop = includeStopInOutput
    }

    enum Outcome: Equatable {
        /// Emit this text (may be empty) and go on.
        case emit(String)
        /// A stop string matched: emit this text (cut at the match, or just after it when the
        /// stop string is to be included) and finish.
        case stopped(String)
    }

    /// Adds the next piece of text.
    mutating func append(_ piece: String) -> Outcome {
        if stops.isEmpty { return .emit(piece) }
        held.append(contentsOf: piece.utf8)
        if let (start, length) = firstMatch() {
            let end = includeStop ? start + length : start
            let out = String(decoding: held[0 ..< end], as: UTF8.self)
            held.removeAll()
            return .stopped(out)
        }
        let keep = longestTailThatStartsAStop()
        let cut = held.count - keep
        let out = String(decoding: held[0 ..< cut], as: UTF8.self)
        held.removeFirst(cut)
        return .emit(out)
    }

    /// Releases the held text when generation ends for another reason (it was output after all).
    mutating func flush() -> String {
        let out = String(decoding: held, as: UTF8.self)
        held.removeAll()
        return out
    }

    /// Earliest match; among matches at the same start, the longest stop string.
    private func firstMatch() -> (Int, Int)? {
        guard !held.isEmpty else { return nil }
        for start in 0 ..< held.count {
            var best = 0
            for s in stops where s.count > best && start + s.count <= held.count {
                if held[start ..< start + s.count].elementsEqual(s) { best = s.count }
            }
            if best > 0 { return (start, best) }
        }
        return nil
    }

    private func longestTailThatStartsAStop() -> Int {
        let maxLen = min(held.count, (stops.map(\.count).max() ?? 1) - 1)
        var len = maxLen
        while len > 0 {
            let tail = held[(held.count - len)...]
            if stops.contains(where: { $0.count > len && $0[0 ..< len].elementsEqual(tail) }) { return len }
            len -= 1
        }
        return 0
    }
}
