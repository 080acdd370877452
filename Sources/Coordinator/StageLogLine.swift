import Logging

/// A line a stage process wrote to stderr, read back so the coordinator can log it through its own
/// logger: stages log with swift-log's stream format (`<time> <level> <label> :<metadata> [<source>]
/// <message>`); anything else (a runtime's crash report, say) is an error.
public struct StageLogLine: Sendable, Equatable {
    public var level: Logger.Level
    /// The line without the stage's timestamp, level and label.
    public var text: String
    /// Whether the line was a log line (else `text` is the whole line).
    public var isLogLine: Bool

    public init(_ line: String) {
        let parts = line.split(separator: " ", maxSplits: 3, omittingEmptySubsequences: false)
        if parts.count == 4, let level = Logger.Level(rawValue: String(parts[1])), parts[3].hasPrefix(":") {
            self.level = level
            self.text = String(parts[3].dropFirst().drop { $0 == " " })
            self.isLogLine = true
        } else {
            self.level = .error
            self.text = line
            self.isLogLine = false
        }
    }
}
