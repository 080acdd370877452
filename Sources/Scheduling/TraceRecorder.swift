/// Collects spans for a Chrome trace-event timeline (the JSON object format that Perfetto and
/// chrome://tracing open): one track per stage and one for the coordinator, complete ("X")
/// events with timestamps and durations in microseconds, and metadata events naming the tracks.
/// Pure: timestamps are supplied by the caller, in nanoseconds of any monotonic clock.
public struct TraceRecorder: Sendable {
    /// Where a span is drawn.
    public enum Track: Sendable, Hashable {
        case coordinator
        case stage(Int)
    }

    /// A value in a span's `args`.
    public enum Argument: Sendable, Equatable {
        case int(Int64)
        case double(Double)
        case string(String)
    }

    private struct Span: Sendable {
        var name: String
        var category: String
        var tid: Int
        var start: UInt64
        var duration: UInt64
        var args: [(String, Argument)]
    }

    public let stageCount: Int
    public let processName: String
    /// Most spans kept; later ones are counted in ``droppedSpans`` instead (bounded memory).
    public let maxSpans: Int
    public private(set) var droppedSpans = 0
    private var spans: [Span] = []

    public init(stageCount: Int, processName: String = "pipeserve", maxSpans: Int = 1_000_000) {
        self.stageCount = max(0, stageCount)
        self.processName = processName
        self.maxSpans = max(0, maxSpans)
    }

    /// Spans recorded so far.
    public var spanCount: Int { spans.count }

    /// Adds a span of `durationNanoseconds` starting at `startNanoseconds`.
    public mutating func span(name: String, category: String, track: Track, startNanoseconds: UInt64,
                              durationNanoseconds: UInt64, args: [(String, Argument)] = []) {
        guard spans.count < maxSpans else { droppedSpans += 1; return }
        spans.append(Span(name: name, category: category, tid: tid(track), start: startNanoseconds,
                          duration: durationNanoseconds, args: args))
    }

    /// Adds a span for a batch, with args `batch`, `slot` and `tokens` (and any `extra`).
    public mutating func batchSpan(name: String = "forward", category: String = "batch", track: Track,
                                   batch: BatchID, slot: SlotIndex, tokens: Int,
                                   startNanoseconds: UInt64, durationNanoseconds: UInt64, extra: [(String, Argument)] = []) {
        span(name: name, category: category, track: track, startNanoseconds: startNanoseconds,
             durationNanoseconds: durationNanoseconds,
             args: [("batch", .int(Int64(truncatingIfNeeded: batch.rawValue))), ("slot", .int(Int64(slot.rawValue))),
                    ("tokens", .int(Int64(tokens)))] + extra)
    }

    /// Forgets all spans (e.g. after writing a file).
    public mutating func removeAll() {
        spans.removeAll()
        droppedSpans = 0
    }

    private func tid(_ track: Track) -> Int {
        switch track {
        case .coordinator: return 0
        case let .stage(s): return s + 1
        }
    }

    /// The trace as `{"traceEvents":[…],"displayTimeUnit":"ms"}`.
    public func json() -> String {
        var events: [String] = []
        events.append(#"{"name":"process_name","ph":"M","pid":1,"tid":0,"args":{"name":\#(JSONText.string(processName))}}"#)
        var tracks: [(Int, String)] = [(0, "coordinator")]
        for s in 0 ..< stageCount { tracks.append((s + 1, "stage \(s)")) }
        let extra = Set(spans.map(\.tid)).subtracting(tracks.map(\.0)).sorted()
        for t in extra { tracks.append((t, "stage \(t - 1)")) }
        for (tid, name) in tracks {
            events.append(#"{"name":"thread_name","ph":"M","pid":1,"tid":\#(tid),"args":{"name":\#(JSONText.string(name))}}"#)
            events.append(#"{"name":"thread_sort_index","ph":"M","pid":1,"tid":\#(tid),"args":{"sort_index":\#(tid)}}"#)
        }
        for s in spans {
            var e = #"{"name":\#(JSONText.string(s.name)),"cat":\#(JSONText.string(s.category)),"ph":"X","#
            e += #""ts":\#(JSONText.microseconds(s.start)),"dur":\#(JSONText.microseconds(s.duration)),"pid":1,"tid":\#(s.tid)"#
            if !s.args.isEmpty {
                e += #","args":{"# + s.args.map { JSONText.string($0.0) + ":" + JSONText.value($0.1) }.joined(separator: ",") + "}"
            }
            events.append(e + "}")
        }
        return #"{"traceEvents":["# + events.joined(separator: ",\n") + #"],"displayTimeUnit":"ms"}"#
    }
}

/// Hand-written JSON text for the trace (the module has no Foundation).
enum JSONText {
    /// A JSON string literal: quotes, backslashes and control characters escaped.
    static func string(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{08}": out += "\\b"
            case "\u{0C}": out += "\\f"
            default:
                if u.value < 0x20 || u.value == 0x2028 || u.value == 0x2029 {
                    let hex = String(u.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(u)
                }
            }
        }
        return out + "\""
    }

    /// Nanoseconds as a decimal number of microseconds, exactly (e.g. 1234567 → 1234.567).
    static func microseconds(_ ns: UInt64) -> String {
        let frac = String(ns % 1000)
        return "\(ns / 1000)." + String(repeating: "0", count: 3 - frac.count) + frac
    }

    static func value(_ a: TraceRecorder.Argument) -> String {
        switch a {
        case let .int(i): return String(i)
        case let .string(s): return string(s)
        case let .double(d): return d.isFinite ? "\(d)" : "null"
        }
    }
}
