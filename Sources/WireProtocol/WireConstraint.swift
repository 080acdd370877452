import ServingTypes

/// A sequence's output constraint as the last stage needs it: the constraint's source (the last
/// stage compiles it against its vocabulary), where the prompt ends in the sequence's positions,
/// and whether end-of-generation is to be ignored.
///
/// It rides on a sequence's first entry of an admission only (position 0, or the entry that
/// restores prefix-cache blocks): the last stage keeps it until the sequence is freed. A
/// recompute after a preemption or a ring restart is a new admission, so it comes again, and the
/// stage rebuilds the constraint's state by replaying the generated tokens — those at positions
/// from `promptLength` on — before it samples.
public struct WireConstraint: Sendable, Equatable, Hashable {
    public var constraint: OutputConstraint
    /// Number of prompt tokens: positions before it are prompt, the rest were generated.
    public var promptLength: UInt32
    /// The request's `ignore_eos`: end-of-generation only where the constraint allows nothing
    /// else.
    public var ignoresEOS: Bool

    /// Longest constraint source on the wire (the `Constraints` module's
    /// `ConstraintLimits.maxSourceBytes`, which the HTTP layer enforces).
    public static let maxSourceBytes = 256 * 1024

    public init(constraint: OutputConstraint, promptLength: UInt32, ignoresEOS: Bool = false) {
        self.constraint = constraint
        self.promptLength = promptLength
        self.ignoresEOS = ignoresEOS
    }

    /// UTF-8 bytes of the constraint's source text (empty for a JSON object).
    public var sourceByteCount: Int {
        switch constraint {
        case .jsonObject: return 0
        case let .jsonSchema(schema, _): return schema.utf8.count
        case let .grammar(text): return text.utf8.count
        }
    }

    /// Wire tag of the constraint's kind (0 means no constraint).
    var kindTag: UInt8 {
        switch constraint {
        case .jsonObject: return 1
        case .jsonSchema: return 2
        case .grammar: return 3
        }
    }

    /// Flag bits: 1 strict (JSON Schema only), 2 ignores end-of-generation.
    var flags: UInt8 {
        var f: UInt8 = ignoresEOS ? 2 : 0
        if case let .jsonSchema(_, strict) = constraint, strict { f |= 1 }
        return f
    }

    /// Encoded size after the kind tag: flags, prompt length, source length and bytes.
    var wireSize: Int { 1 + 4 + 4 + sourceByteCount }
}
