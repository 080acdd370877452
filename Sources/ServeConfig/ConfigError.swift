/// A configuration problem, naming the key and (for files) the line.
public struct ConfigError: Error, CustomStringConvertible, Equatable, Sendable {
    public var file: String?
    public var line: Int?
    public var key: String
    public var message: String

    public init(file: String? = nil, line: Int? = nil, key: String, message: String) {
        self.file = file; self.line = line; self.key = key; self.message = message
    }

    public var description: String {
        var where_ = ""
        if let file { where_ += file }
        if let line { where_ += (where_.isEmpty ? "line " : ":") + "\(line)" }
        return (where_.isEmpty ? "" : where_ + ": ") + (key.isEmpty ? message : "\(key): \(message)")
    }
}
