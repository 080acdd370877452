import Foundation

/// The file named by `http.api_key_file`: one bearer key per line (several keys let an operator
/// rotate them without downtime: add the new key, reload clients, remove the old one at the next
/// restart). Blank lines and lines starting with `#` are ignored; surrounding spaces are trimmed.
public enum APIKeyFile {
    /// Reads and checks the keys; every problem names the file and, where it applies, the line.
    public static func read(path: String) throws -> [String] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigError(file: path, key: "http.api_key_file", message: "cannot read the API key file")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw ConfigError(file: path, key: "http.api_key_file", message: "the API key file is not valid UTF-8")
        }
        return try parse(text, file: path)
    }

    /// The keys of a key file's text (`file` only labels errors).
    public static func parse(_ text: String, file: String? = nil) throws -> [String] {
        var keys: [String] = []
        for (index, raw) in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces.union(CharacterSet(charactersIn: "\r")))
            if line.isEmpty || line.hasPrefix("#") { continue }
            if let bad = line.unicodeScalars.first(where: { $0.value < 0x21 || $0.value == 0x7F }) {
                throw ConfigError(file: file, line: index + 1, key: "http.api_key_file",
                                  message: "a key contains \(bad == " " || bad == "\t" ? "whitespace" : "a control character") (one key per line, no spaces inside a key)")
            }
            keys.append(line)
        }
        guard !keys.isEmpty else {
            throw ConfigError(file: file, key: "http.api_key_file", message: "the API key file holds no key (one key per line; # starts a comment)")
        }
        return keys
    }
}
