import Constraints

// Request bodies → JSONValue with object members in document order (a JSON Schema's
// properties are generated in the order the client wrote them; Foundation's JSONDecoder
// decodes objects through a dictionary and loses it). Strict RFC 8259 — UTF-8, no comments or
// trailing commas, no lone surrogate escapes, nesting bounded — by the Constraints module's
// parser; repeated keys are kept (the last one counts, as for `subscript`).

extension JSONValue {
    /// Deepest nesting of arrays and objects accepted (JSONDecoder's limit too).
    static let maxParseDepth = 512

    /// Parses one JSON document; nil when it is not valid JSON (or holds a number beyond a double).
    static func parse(_ bytes: [UInt8]) -> JSONValue? {
        guard let node = try? JSONNodeParser.parse(bytes: bytes, maxDepth: maxParseDepth, allowDuplicateKeys: true) else { return nil }
        return JSONValue(node)
    }

    /// An integer literal that fits Int64 becomes `.int`, any other number `.double`.
    private init?(_ node: JSONNode) {
        switch node {
        case .null: self = .null
        case let .bool(b): self = .bool(b)
        case let .string(s): self = .string(s)
        case let .number(text):
            if node.isIntegerLiteral, let value = Int64(text) {
                self = .int(value)
            } else {
                guard let value = Double(text), value.isFinite else { return nil }
                self = .double(value)
            }
        case let .array(items):
            var out: [JSONValue] = []
            out.reserveCapacity(items.count)
            for item in items {
                guard let v = JSONValue(item) else { return nil }
                out.append(v)
            }
            self = .array(out)
        case let .object(members):
            var out: [(String, JSONValue)] = []
            out.reserveCapacity(members.count)
            for (key, member) in members {
                guard let v = JSONValue(member) else { return nil }
                out.append((key, v))
            }
            self = .object(out)
        }
    }
}
