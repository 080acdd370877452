/// The metadata key/value pairs of a GGUF file, with typed accessors whose errors name the key.
public struct GGUFMetadata: Sendable {
    /// A value as held: decoded, or a long array left in the mapping until it is read.
    enum Stored: Sendable {
        case value(GGUFValue)
        case deferred(element: GGUFValueType, count: Int, offset: Int)
    }

    private let stored: [(key: String, value: Stored)]
    private let index: [String: Int]
    private let mapping: GGUFMapping?

    public init(_ entries: [(String, GGUFValue)]) {
        self.init(stored: entries.map { ($0.0, .value($0.1)) }, mapping: nil)
    }

    init(stored: [(String, Stored)], mapping: GGUFMapping?) {
        self.stored = stored.map { (key: $0.0, value: $0.1) }
        var index: [String: Int] = [:]
        for (i, e) in stored.enumerated() { index[e.0] = i }
        self.index = index
        self.mapping = mapping
    }

    /// Number of keys.
    public var count: Int { stored.count }
    /// Keys in file order.
    public var keys: [String] { stored.map(\.key) }

    /// Entries in file order (long arrays are decoded on the way).
    public var entries: [(key: String, value: GGUFValue)] { stored.map { (key: $0.key, value: decode($0.value)) } }

    public subscript(key: String) -> GGUFValue? { index[key].map { decode(stored[$0].value) } }

    /// The type of a key's value without decoding it.
    public func type(of key: String) -> GGUFValueType? {
        guard let i = index[key] else { return nil }
        if case let .value(v) = stored[i].value { return v.type }
        return .array
    }

    private func decode(_ s: Stored) -> GGUFValue {
        switch s {
        case let .value(v): return v
        case let .deferred(element, count, offset):
            guard let mapping else { return .array(element, []) }
            return GGUFFile.decodeDeferred(mapping.buffer, element: element, count: count, offset: offset)
        }
    }

    /// Keys whose value type the format fixes; a file that stores another type there is rejected at open.
    static let knownKeyTypes: [String: GGUFValueType] = [
        "general.architecture": .string, "general.alignment": .uint32, "general.name": .string,
        "tokenizer.ggml.model": .string, "tokenizer.ggml.tokens": .array, "tokenizer.ggml.scores": .array,
        "tokenizer.ggml.token_type": .array, "tokenizer.ggml.merges": .array,
    ]

    func validateKnownKeys() throws {
        for (key, expected) in Self.knownKeyTypes {
            if let t = type(of: key), t != expected {
                throw GGUFError.wrongValueType(key: key, expected: expected.description, found: t.description)
            }
        }
    }

    public func string(_ key: String) throws -> String {
        guard let v = self[key] else { throw GGUFError.missingKey(key) }
        guard case let .string(s) = v else { throw GGUFError.wrongValueType(key: key, expected: "string", found: v.type.description) }
        return s
    }

    public func optionalString(_ key: String) throws -> String? {
        self[key] == nil ? nil : try string(key)
    }

    public func integer(_ key: String) throws -> Int {
        guard let v = self[key] else { throw GGUFError.missingKey(key) }
        guard let i = v.integer else { throw GGUFError.wrongValueType(key: key, expected: "integer", found: v.type.description) }
        return i
    }

    public func optionalInteger(_ key: String) throws -> Int? {
        self[key] == nil ? nil : try integer(key)
    }

    public func float(_ key: String) throws -> Double {
        guard let v = self[key] else { throw GGUFError.missingKey(key) }
        guard let d = v.double else { throw GGUFError.wrongValueType(key: key, expected: "number", found: v.type.description) }
        return d
    }

    public func optionalFloat(_ key: String) throws -> Double? {
        self[key] == nil ? nil : try float(key)
    }

    public func optionalBool(_ key: String) throws -> Bool? {
        guard let v = self[key] else { return nil }
        guard case let .bool(b) = v else { throw GGUFError.wrongValueType(key: key, expected: "bool", found: v.type.description) }
        return b
    }

    private func array(_ key: String) throws -> (GGUFValueType, [GGUFValue])? {
        guard let v = self[key] else { return nil }
        guard case let .array(t, items) = v else { throw GGUFError.wrongValueType(key: key, expected: "array", found: v.type.description) }
        return (t, items)
    }

    /// An array of strings, or `nil` when the key is absent.
    public func stringArray(_ key: String) throws -> [String]? {
        guard let (t, items) = try array(key) else { return nil }
        return try items.map {
            guard case let .string(s) = $0 else { throw GGUFError.wrongValueType(key: key, expected: "array of string", found: "array of \(t)") }
            return s
        }
    }

    /// An array of numbers as Float, or `nil` when the key is absent.
    public func floatArray(_ key: String) throws -> [Float]? {
        guard let (t, items) = try array(key) else { return nil }
        return try items.map {
            guard let d = $0.double else { throw GGUFError.wrongValueType(key: key, expected: "array of number", found: "array of \(t)") }
            return Float(d)
        }
    }

    /// An array of integers, or `nil` when the key is absent.
    public func integerArray(_ key: String) throws -> [Int]? {
        guard let (t, items) = try array(key) else { return nil }
        return try items.map {
            guard let i = $0.integer else { throw GGUFError.wrongValueType(key: key, expected: "array of integer", found: "array of \(t)") }
            return i
        }
    }
}
