import Foundation

/// A JSON document as a value: requests are decoded into it so that every field can be checked
/// with a precise message (wrong type, unknown key), and responses are built from it so that
/// OpenAI's explicit `null`s and key order come out exactly.
enum JSONValue: Sendable {
    case null
    case bool(Bool)
    case int(Int64)
    case double(Double)
    case string(String)
    case array([JSONValue])
    /// Ordered, so responses read like OpenAI's (id, object, created, model, choices, usage).
    case object([(String, JSONValue)])

    subscript(key: String) -> JSONValue? {
        guard case .object(let pairs) = self else { return nil }
        return pairs.last(where: { $0.0 == key })?.1
    }

    var isNull: Bool {
        if case .null = self { return true }
        return false
    }

    /// Name of the JSON type, for "must be a string, got a number" messages.
    var typeName: String {
        switch self {
        case .null: "null"
        case .bool: "a boolean"
        case .int, .double: "a number"
        case .string: "a string"
        case .array: "an array"
        case .object: "an object"
        }
    }
}

// MARK: - Decoding

extension JSONValue: Decodable {
    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Int64.self) {
            self = .int(value)
        } else if let value = try? container.decode(Double.self) {
            self = .double(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([JSONValue].self) {
            self = .array(value)
        } else {
            let dictionary = try container.decode([String: JSONValue].self)
            self = .object(dictionary.sorted(by: { $0.key < $1.key }).map { ($0.key, $0.value) })
        }
    }

    /// Parses a request body, keeping object members in order (`JSONValue+Parsing`). Throws
    /// `APIError` (400) for anything that is not a JSON object.
    static func parseObject(_ bytes: some Collection<UInt8>) throws(APIError) -> JSONValue {
        guard let value = JSONValue.parse(Array(bytes)) else { throw APIError.invalidJSON }
        guard case .object = value else {
            throw APIError.invalidRequest("The request body must be a JSON object, not \(value.typeName).")
        }
        return value
    }
}

// MARK: - Encoding

extension JSONValue {
    /// Compact JSON text.
    var serialized: String {
        var out = ""
        out.reserveCapacity(256)
        write(into: &out)
        return out
    }

    func write(into out: inout String) {
        switch self {
        case .null: out += "null"
        case .bool(let value): out += value ? "true" : "false"
        case .int(let value): out += String(value)
        case .double(let value):
            if value.isFinite {
                out += value.description
            } else {
                out += value < 0 ? "-9999.0" : (value > 0 ? "9999.0" : "null")
            }
        case .string(let value): Self.writeString(value, into: &out)
        case .array(let items):
            out += "["
            for (index, item) in items.enumerated() {
                if index > 0 { out += "," }
                item.write(into: &out)
            }
            out += "]"
        case .object(let pairs):
            out += "{"
            for (index, (key, value)) in pairs.enumerated() {
                if index > 0 { out += "," }
                Self.writeString(key, into: &out)
                out += ":"
                value.write(into: &out)
            }
            out += "}"
        }
    }

    private static func writeString(_ string: String, into out: inout String) {
        out += "\""
        for scalar in string.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20 || scalar.value == 0x2028 || scalar.value == 0x2029:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        out += "\""
    }
}

// MARK: - Building

extension JSONValue {
    static func number(_ value: Int) -> JSONValue { .int(Int64(value)) }

    /// A Float shown with its shortest decimal form (-0.1, not -0.10000000149011612).
    static func number(_ value: Float) -> JSONValue {
        guard value.isFinite else { return .double(Double(value)) }
        return .double(Double(value.description) ?? Double(value))
    }

    static func optional(_ value: String?) -> JSONValue {
        value.map { .string($0) } ?? .null
    }
}
