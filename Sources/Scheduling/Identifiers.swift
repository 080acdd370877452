// Small wrapper types for the identifiers the scheduler hands to the coordinator, so a request
// id is never passed where a sequence id is expected.
//
// Note for integrators: `WireProtocol` also declares a `BatchID`, and `ModelRuntime` a
// `SequenceID`. A file importing both modules spells ours `Scheduling.BatchID` (or converts
// through `rawValue`, which has the same width as the wire's u64).

/// The coordinator's id for one client-visible sequence (one choice of one API request).
/// Chosen by the caller of ``Scheduler/submit(_:)``; events about the sequence carry it.
public struct RequestID: RawRepresentable, Hashable, Comparable, Sendable, CustomStringConvertible {
    public var rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }
    public init(_ value: UInt64) { self.rawValue = value }
    public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }
    public var description: String { "request \(rawValue)" }
}

/// The id under which the stages keep a sequence's KV cache. Assigned by the scheduler at
/// submission, unique for the scheduler's lifetime (never reused, even if a request id is),
/// and stable across preemption: a recomputed sequence is first freed, then prefilled again
/// under the same id (the ring is FIFO, so the free arrives first).
public struct SequenceID: RawRepresentable, Hashable, Comparable, Sendable, CustomStringConvertible {
    public var rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }
    public init(_ value: UInt64) { self.rawValue = value }
    public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }
    public var description: String { "seq \(rawValue)" }
}

/// A micro-batch slot, 0 ..< ``SchedulerConfiguration/microBatches``. Each running sequence
/// belongs to exactly one slot, and a slot has at most one batch in the ring at a time.
public struct SlotIndex: RawRepresentable, Hashable, Comparable, Sendable, CustomStringConvertible {
    public var rawValue: Int
    public init(rawValue: Int) { self.rawValue = rawValue }
    public init(_ value: Int) { self.rawValue = value }
    public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }
    public var description: String { "slot \(rawValue)" }
}

/// Identifies one trip of a planned micro-batch around the ring. Assigned by the scheduler,
/// increasing from 1; a completion for an id the scheduler no longer waits for is ignored.
public struct BatchID: RawRepresentable, Hashable, Comparable, Sendable, CustomStringConvertible {
    public var rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }
    public init(_ value: UInt64) { self.rawValue = value }
    public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }
    public var description: String { "batch \(rawValue)" }
}
