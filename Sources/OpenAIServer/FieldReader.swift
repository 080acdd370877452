/// Reads typed fields from a request's JSON object, remembering which keys were read so that the
/// rest can be rejected by name. JSON `null` counts as "not given", as in OpenAI's API.
struct FieldReader {
    private let pairs: [(String, JSONValue)]
    private var read: Set<String> = []
    /// Prefix for `param` in errors, e.g. "messages[2]." for a nested object.
    let path: String

    init(_ object: JSONValue, path: String = "") {
        if case .object(let pairs) = object { self.pairs = pairs } else { self.pairs = [] }
        self.path = path
    }

    /// The raw value of `key`, nil when absent or null.
    mutating func value(_ key: String) -> JSONValue? {
        read.insert(key)
        guard let value = pairs.last(where: { $0.0 == key })?.1, !value.isNull else { return nil }
        return value
    }

    func typeError(_ key: String, _ expected: String, got value: JSONValue) -> APIError {
        .invalidRequest("'\(path)\(key)' must be \(expected), got \(value.typeName).", param: path + key, code: "invalid_type")
    }

    func rangeError(_ key: String, _ requirement: String, got: String) -> APIError {
        .invalidRequest("'\(path)\(key)' must be \(requirement), got \(got).", param: path + key, code: "invalid_value")
    }

    mutating func bool(_ key: String) throws(APIError) -> Bool? {
        guard let value = value(key) else { return nil }
        guard case .bool(let bool) = value else { throw typeError(key, "a boolean", got: value) }
        return bool
    }

    mutating func string(_ key: String) throws(APIError) -> String? {
        guard let value = value(key) else { return nil }
        guard case .string(let string) = value else { throw typeError(key, "a string", got: value) }
        return string
    }

    /// An integer; a float with an integral value (16.0) is accepted as well.
    mutating func int(_ key: String) throws(APIError) -> Int64? {
        guard let value = value(key) else { return nil }
        guard let int = Self.integer(value) else { throw typeError(key, "an integer", got: value) }
        return int
    }

    /// An integer within `range`, with `requirement` spelled out in the error.
    mutating func int(_ key: String, in range: ClosedRange<Int>, _ requirement: String) throws(APIError) -> Int? {
        guard let value = try int(key) else { return nil }
        guard value >= Int64(range.lowerBound), value <= Int64(range.upperBound) else {
            throw rangeError(key, requirement, got: String(value))
        }
        return Int(value)
    }

    mutating func number(_ key: String) throws(APIError) -> Double? {
        guard let value = value(key) else { return nil }
        switch value {
        case .int(let int): return Double(int)
        case .double(let double): return double
        default: throw typeError(key, "a number", got: value)
        }
    }

    /// A number accepted by `isValid`, with `requirement` spelled out in the error.
    mutating func number(_ key: String, _ requirement: String, _ isValid: (Double) -> Bool) throws(APIError) -> Double? {
        guard let value = try number(key) else { return nil }
        guard isValid(value) else { throw rangeError(key, requirement, got: String(value)) }
        return value
    }

    /// Keys present (and not null) that no one read. Known OpenAI fields this server does not
    /// implement are reported as unsupported, everything else as unrecognized (as OpenAI does).
    func rejectUnread(unsupported: Set<String>) throws(APIError) {
        for (key, value) in pairs where !read.contains(key) {
            if unsupported.contains(key) {
                if value.isNull { continue }
                throw APIError.unsupported(path + key)
            }
            throw APIError.unrecognizedArgument(path + key)
        }
    }

    static func integer(_ value: JSONValue) -> Int64? {
        switch value {
        case .int(let int): return int
        case .double(let double) where double.rounded() == double && abs(double) < 9.0e15: return Int64(double)
        default: return nil
        }
    }
}
