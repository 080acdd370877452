import ServingTypes

// The scheduler's own identifiers. A sequence is named by `ServingTypes.SequenceID`, which the
// caller chooses (unique for the scheduler's lifetime) and the stages key their KV cache by.
//
// Note for integrators: `WireProtocol` also declares a `BatchID`. A file importing both modules
// spells ours `Scheduling.BatchID` (or converts through `rawValue`, the wire's u64).

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
