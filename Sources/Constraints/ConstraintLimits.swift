/// Bounds on what compiling and running a constraint may cost. Compile bounds turn into
/// `ConstraintError.tooLarge`; run-time bounds prune paths (never abort).
public struct ConstraintLimits: Sendable, Equatable {
    /// Schema text longer than this is refused before parsing.
    public var maxSourceBytes = 256 * 1024
    /// JSON nesting of the schema document (and of GBNF parentheses).
    public var maxSourceDepth = 64
    /// Schema objects visited while translating (shared `$defs` count once).
    public var maxSchemaNodes = 20_000
    /// Expanded bounded repetitions (`minItems`/`maxItems`, `{m,n}`) beyond this are refused.
    public var maxRepetition = 1_000
    /// Nondeterministic automaton states, before determinisation.
    public var maxNFAStates = 150_000
    /// Deterministic states over all rules: bounds the automaton's memory (a few hundred bytes
    /// each) and so the per-state token tables.
    public var maxDFAStates = 20_000
    /// Work units (subset-construction steps) of the whole compile: bounds its time to tens of
    /// milliseconds.
    public var maxCompileWork = 30_000_000
    /// Run time: stack frames of one parse (nesting depth). Deeper paths are not taken, so a
    /// model cannot nest without end; only closing moves stay open at the limit.
    public var maxStackDepth = 256
    /// Run time: simultaneous parses kept for an ambiguous grammar. Beyond it the later ones
    /// (in a deterministic order) are dropped: output still matches, some valid texts are lost.
    public var maxStacks = 128

    public init() {}

    public static let `default` = ConstraintLimits()
}
