/// JSON text laid out the way Python's `json.dumps` writes it, which is what Hugging Face chat
/// templates put into prompts (`tool | tojson`, `tojson(indent=4)`): models saw tool definitions
/// and calls in that layout during training.
///
/// The input is valid JSON (the HTTP layer serialises it); only whitespace outside strings is
/// changed, so the value is the same. Strings are copied as they are.
enum JSONLayout {
    /// One line with `", "` between items and `": "` after keys (`json.dumps(x)`).
    static func spaced(_ json: String) -> String {
        layout(json, indent: nil)
    }

    /// One item per line, nested `indent` spaces deeper per level, `","` at line ends and
    /// `": "` after keys; empty containers stay `{}` and `[]` (`json.dumps(x, indent=n)`).
    static func indented(_ json: String, by indent: Int) -> String {
        layout(json, indent: max(0, indent))
    }

    /// `text` as a JSON string literal (quotes, backslashes and control characters escaped).
    static func quoted(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    private static func isBlank(_ b: UInt8) -> Bool { b == 0x20 || b == 0x0A || b == 0x09 || b == 0x0D }

    private static func layout(_ json: String, indent: Int?) -> String {
        let bytes = Array(json.utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count + bytes.count / 2)
        var depth = 0
        var inString = false
        var escaped = false
        func newline() {
            guard let indent else { return }
            out.append(0x0A)
            out.append(contentsOf: repeatElement(0x20, count: depth * indent))
        }
        var i = 0
        while i < bytes.count {
            let b = bytes[i]
            i += 1
            if inString {
                out.append(b)
                if escaped { escaped = false } else if b == 0x5C { escaped = true } else if b == 0x22 { inString = false }
                continue
            }
            switch b {
            case _ where isBlank(b):
                continue
            case 0x22:
                out.append(b)
                inString = true
            case 0x7B, 0x5B:  // { [
                out.append(b)
                var j = i
                while j < bytes.count, isBlank(bytes[j]) { j += 1 }
                if j < bytes.count, bytes[j] == b + 2 {  // } is { + 2, ] is [ + 2
                    out.append(bytes[j])
                    i = j + 1
                    continue
                }
                depth += 1
                newline()
            case 0x7D, 0x5D:  // } ]
                depth = max(0, depth - 1)
                newline()
                out.append(b)
            case 0x2C:  // ,
                out.append(b)
                if indent == nil { out.append(0x20) } else { newline() }
            case 0x3A:  // :
                out.append(contentsOf: [0x3A, 0x20])
            default:
                out.append(b)
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}
