/// A strict RFC 8259 parser: UTF-8 only, no trailing commas or comments, no lone surrogate
/// escapes, bounded nesting, duplicate keys refused (schemas) or kept in order (request bodies).
/// Errors carry a byte offset. The one JSON parser of the package: the OpenAI layer reads request
/// bodies with it too.
package struct JSONNodeParser {
    private let bytes: [UInt8]
    private var offset = 0
    private let maxDepth: Int
    private let allowDuplicateKeys: Bool

    init(_ bytes: [UInt8], maxDepth: Int, allowDuplicateKeys: Bool = false) {
        self.bytes = bytes
        self.maxDepth = maxDepth
        self.allowDuplicateKeys = allowDuplicateKeys
    }

    static func parse(_ text: String, limits: ConstraintLimits) throws(ConstraintError) -> JSONNode {
        let bytes = Array(text.utf8)
        guard bytes.count <= limits.maxSourceBytes else {
            throw .tooLarge(message: "the schema is longer than \(limits.maxSourceBytes) bytes", path: "")
        }
        return try parse(bytes: bytes, maxDepth: limits.maxSourceDepth)
    }

    /// One JSON document: containers nest at most `maxDepth` deep; with `allowDuplicateKeys` an
    /// object keeps every member, repeated keys included, in document order.
    package static func parse(bytes: [UInt8], maxDepth: Int, allowDuplicateKeys: Bool = false) throws(ConstraintError) -> JSONNode {
        var parser = JSONNodeParser(bytes, maxDepth: maxDepth, allowDuplicateKeys: allowDuplicateKeys)
        parser.skipSpace()
        let value = try parser.value(depth: 0)
        parser.skipSpace()
        guard parser.offset == bytes.count else { throw parser.error("unexpected text after the value") }
        return value
    }

    private func error(_ message: String) -> ConstraintError {
        .invalidJSON(message: message, offset: offset)
    }

    private mutating func skipSpace() {
        while offset < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[offset]) { offset += 1 }
    }

    private mutating func expect(_ literal: String) throws(ConstraintError) {
        for byte in literal.utf8 {
            guard offset < bytes.count, bytes[offset] == byte else { throw error("expected '\(literal)'") }
            offset += 1
        }
    }

    private mutating func value(depth: Int) throws(ConstraintError) -> JSONNode {
        guard offset < bytes.count else { throw error("unexpected end of text") }
        switch bytes[offset] {
        case UInt8(ascii: "{"):
            guard depth < maxDepth else {
                throw .tooLarge(message: "the schema nests deeper than \(maxDepth) levels", path: "")
            }
            offset += 1
            skipSpace()
            var members: [(String, JSONNode)] = []
            var keys = Set<String>()
            if offset < bytes.count, bytes[offset] == UInt8(ascii: "}") {
                offset += 1
                return .object(members)
            }
            while true {
                guard offset < bytes.count, bytes[offset] == UInt8(ascii: "\"") else { throw error("expected a string key") }
                let keyOffset = offset
                let key = try string()
                guard allowDuplicateKeys || keys.insert(key).inserted else {
                    throw .invalidJSON(message: "duplicate key '\(key)'", offset: keyOffset)
                }
                skipSpace()
                try expect(":")
                skipSpace()
                members.append((key, try value(depth: depth + 1)))
                skipSpace()
                guard offset < bytes.count else { throw error("unexpected end of text in an object") }
                if bytes[offset] == UInt8(ascii: ",") {
                    offset += 1
                    skipSpace()
                } else if bytes[offset] == UInt8(ascii: "}") {
                    offset += 1
                    return .object(members)
                } else {
                    throw error("expected ',' or '}'")
                }
            }
        case UInt8(ascii: "["):
            guard depth < maxDepth else {
                throw .tooLarge(message: "the schema nests deeper than \(maxDepth) levels", path: "")
            }
            offset += 1
            skipSpace()
            var items: [JSONNode] = []
            if offset < bytes.count, bytes[offset] == UInt8(ascii: "]") {
                offset += 1
                return .array(items)
            }
            while true {
                items.append(try value(depth: depth + 1))
                skipSpace()
                guard offset < bytes.count else { throw error("unexpected end of text in an array") }
                if bytes[offset] == UInt8(ascii: ",") {
                    offset += 1
                    skipSpace()
                } else if bytes[offset] == UInt8(ascii: "]") {
                    offset += 1
                    return .array(items)
                } else {
                    throw error("expected ',' or ']'")
                }
            }
        case UInt8(ascii: "\""):
            return .string(try string())
        case UInt8(ascii: "t"):
            try expect("true")
            return .bool(true)
        case UInt8(ascii: "f"):
            try expect("false")
            return .bool(false)
        case UInt8(ascii: "n"):
            try expect("null")
            return .null
        default:
            return .number(try number())
        }
    }

    private mutating func number() throws(ConstraintError) -> String {
        let start = offset
        func digits() -> Int {
            let from = offset
            while offset < bytes.count, (0x30...0x39).contains(bytes[offset]) { offset += 1 }
            return offset - from
        }
        if offset < bytes.count, bytes[offset] == UInt8(ascii: "-") { offset += 1 }
        guard offset < bytes.count, (0x30...0x39).contains(bytes[offset]) else { throw error("expected a value") }
        if bytes[offset] == UInt8(ascii: "0") {
            offset += 1
            if offset < bytes.count, (0x30...0x39).contains(bytes[offset]) { throw error("a number may not have leading zeros") }
        } else {
            _ = digits()
        }
        if offset < bytes.count, bytes[offset] == UInt8(ascii: ".") {
            offset += 1
            guard digits() > 0 else { throw error("expected digits after '.'") }
        }
        if offset < bytes.count, bytes[offset] | 0x20 == UInt8(ascii: "e") {
            offset += 1
            if offset < bytes.count, bytes[offset] == UInt8(ascii: "+") || bytes[offset] == UInt8(ascii: "-") { offset += 1 }
            guard digits() > 0 else { throw error("expected digits in the exponent") }
        }
        return String(decoding: bytes[start..<offset], as: UTF8.self)
    }

    private mutating func hex4() throws(ConstraintError) -> UInt32 {
        guard offset + 4 <= bytes.count else { throw error("truncated \\u escape") }
        var value: UInt32 = 0
        for byte in bytes[offset..<(offset + 4)] {
            let digit: UInt8
            switch byte {
            case 0x30...0x39: digit = byte - 0x30
            case 0x41...0x46: digit = byte - 0x41 + 10
            case 0x61...0x66: digit = byte - 0x61 + 10
            default: throw error("invalid hex digit in a \\u escape")
            }
            value = value << 4 | UInt32(digit)
        }
        offset += 4
        return value
    }

    private mutating func string() throws(ConstraintError) -> String {
        offset += 1  // opening quote
        var scalars = String.UnicodeScalarView()
        var runStart = offset
        func flushRun() throws(ConstraintError) {
            guard runStart < offset else { return }
            guard let text = String(validating: bytes[runStart..<offset], as: UTF8.self) else {
                throw .invalidJSON(message: "invalid UTF-8 in a string", offset: runStart)
            }
            scalars.append(contentsOf: text.unicodeScalars)
        }
        while true {
            guard offset < bytes.count else { throw error("unterminated string") }
            let byte = bytes[offset]
            if byte == UInt8(ascii: "\"") {
                try flushRun()
                offset += 1
                return String(scalars)
            }
            if byte < 0x20 { throw error("a control character in a string must be escaped") }
            if byte != UInt8(ascii: "\\") {
                offset += 1
                continue
            }
            try flushRun()
            offset += 1
            guard offset < bytes.count else { throw error("unterminated escape") }
            let escape = bytes[offset]
            offset += 1
            switch escape {
            case UInt8(ascii: "\""): scalars.append("\"")
            case UInt8(ascii: "\\"): scalars.append("\\")
            case UInt8(ascii: "/"): scalars.append("/")
            case UInt8(ascii: "b"): scalars.append("\u{08}")
            case UInt8(ascii: "f"): scalars.append("\u{0C}")
            case UInt8(ascii: "n"): scalars.append("\n")
            case UInt8(ascii: "r"): scalars.append("\r")
            case UInt8(ascii: "t"): scalars.append("\t")
            case UInt8(ascii: "u"):
                var value = try hex4()
                if (0xD800...0xDBFF).contains(value) {
                    guard offset + 2 <= bytes.count, bytes[offset] == UInt8(ascii: "\\"), bytes[offset + 1] == UInt8(ascii: "u")
                    else { throw error("a high surrogate escape must be followed by a low one") }
                    offset += 2
                    let low = try hex4()
                    guard (0xDC00...0xDFFF).contains(low) else { throw error("a high surrogate escape must be followed by a low one") }
                    value = 0x10000 + ((value - 0xD800) << 10) + (low - 0xDC00)
                } else if (0xDC00...0xDFFF).contains(value) {
                    throw error("a lone low surrogate escape")
                }
                guard let scalar = Unicode.Scalar(value) else { throw error("invalid \\u escape") }
                scalars.append(scalar)
            default:
                throw error("invalid escape")
            }
            runStart = offset
        }
    }
}
