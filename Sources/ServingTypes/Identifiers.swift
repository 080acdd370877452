// The identifiers every module shares, as small wrapper types so that one is never passed where
// another is expected.

/// A client-visible request (`cmpl-…`, `chatcmpl-…`): in the response, the `x-request-id`
/// header and the `request.id` metadata of every log line about it, down to the stages.
public struct RequestID: Hashable, Sendable, CustomStringConvertible, ExpressibleByStringLiteral {
    public var rawValue: String
    public init(_ rawValue: String) { self.rawValue = rawValue }
    public init(stringLiteral value: String) { self.rawValue = value }
    public var description: String { rawValue }
}

/// One generated sequence (one choice of a request; n choices are n sequences). The engine,
/// the scheduler and the stages all key a sequence by it (the stages their KV cache); unique for
/// the engine's lifetime and stable across preemption and recompute. u64 on the wire.
public struct SequenceID: RawRepresentable, Hashable, Comparable, Sendable, CustomStringConvertible {
    public var rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }
    public init(_ value: UInt64) { self.rawValue = value }
    public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }
    public var description: String { "seq \(rawValue)" }
}
