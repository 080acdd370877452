/// Where a run of a constraint stands after some output: advanced byte by byte (or by a
/// token's bytes), it says whether more bytes may follow and whether the output may end here.
///
/// A value type: copying it is cheap (parse stacks share their frames), so every sequence keeps
/// its own, and a replay after a stage restart rebuilds it by advancing over the tokens so far —
/// the state is a function of the output bytes only.
public struct ConstraintState: Sendable {
    /// The automaton it runs.
    public let grammar: CompiledGrammar
    var parses: ParseSet
    /// Bytes consumed so far.
    public private(set) var consumedBytes = 0

    init(grammar: CompiledGrammar) {
        self.grammar = grammar
        var parses = ParseSet()
        grammar.addClosure(of: ParseStack(top: grammar.root, below: nil, depth: 1), to: &parses)
        self.parses = parses
    }

    /// Whether the output may end here (end-of-generation is allowed).
    public var isAccepting: Bool { parses.poppedBottom }

    /// Whether some byte may follow.
    public var canContinue: Bool { !parses.stacks.isEmpty }

    /// Neither another byte nor the end is possible. Does not happen after accepted input
    /// unless a run-time bound (`ConstraintLimits.maxStackDepth`) closed the only way on.
    public var isDead: Bool { parses.isEmpty }

    /// Whether `bytes` may come next (the state does not change).
    public func accepts(_ bytes: [UInt8]) -> Bool {
        grammar.accepts(bytes, from: 0, in: parses)
    }

    /// Consumes one byte; returns false (state unchanged) when the byte is not allowed.
    @discardableResult
    public mutating func advance(_ byte: UInt8) -> Bool {
        let next = grammar.advance(parses, byte: byte)
        guard !next.isEmpty else { return false }
        parses = next
        consumedBytes += 1
        return true
    }

    /// Consumes all of `bytes`, or nothing: returns false (state unchanged) when some byte is
    /// not allowed.
    @discardableResult
    public mutating func advance(_ bytes: some Sequence<UInt8>) -> Bool {
        var next = parses
        var count = 0
        for byte in bytes {
            next = grammar.advance(next, byte: byte)
            guard !next.isEmpty else { return false }
            count += 1
        }
        parses = next
        consumedBytes += count
        return true
    }

    /// Number of simultaneous parses (1 for a deterministic grammar in most places).
    public var parseCount: Int { parses.stacks.count }

    /// Deepest parse stack (nesting depth in frames).
    public var depth: Int { Int(parses.stacks.map(\.depth).max() ?? 0) }
}
