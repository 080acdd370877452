/// A grammar compiled to a recursive transition network over bytes: every rule is a
/// deterministic automaton whose edges consume a byte or call another rule (push a return
/// state). `ConstraintState` runs it as a pushdown automaton. Immutable and shared by every
/// sequence that uses the constraint.
public final class CompiledGrammar: Sendable {
    /// Byte → column of `next`.
    let classOf: [UInt8]
    let classCount: Int
    /// `next[state * classCount + class]`: the state after a byte of that class, or -1.
    let next: [Int32]
    /// Whether the rule of a state may end there (return to its caller).
    let isFinal: [Bool]
    /// Whether a state has at least one byte edge.
    let hasBytes: [Bool]
    /// Whether a state has neither calls nor may end: a byte step from it needs no stack work.
    let isPlain: [Bool]
    /// Call edges of state s: `callRule[callStart[s]..<callStart[s+1]]` with their return states.
    let callStart: [Int32]
    let callRule: [Int32]
    let callReturn: [Int32]
    /// Start state of each rule.
    let ruleStart: [Int32]
    let ruleNames: [String]
    /// The rule the whole output must match.
    let root: Int32
    /// Run-time bounds (stack depth, parses kept).
    public let limits: ConstraintLimits

    init(
        classOf: [UInt8], classCount: Int, next: [Int32], isFinal: [Bool], callStart: [Int32], callRule: [Int32],
        callReturn: [Int32], ruleStart: [Int32], ruleNames: [String], root: Int32, limits: ConstraintLimits
    ) {
        self.classOf = classOf
        self.classCount = classCount
        self.next = next
        self.isFinal = isFinal
        self.callStart = callStart
        self.callRule = callRule
        self.callReturn = callReturn
        self.ruleStart = ruleStart
        self.ruleNames = ruleNames
        self.root = root
        self.limits = limits
        let count = isFinal.count
        var hasBytes = [Bool](repeating: false, count: count)
        var isPlain = [Bool](repeating: false, count: count)
        for state in 0..<count {
            let row = state * classCount
            hasBytes[state] = (0..<classCount).contains { next[row + $0] >= 0 }
            isPlain[state] = !isFinal[state] && callStart[state] == callStart[state + 1]
        }
        self.hasBytes = hasBytes
        self.isPlain = isPlain
    }

    /// Number of deterministic states over all rules.
    public var stateCount: Int { isFinal.count }

    /// The state after `byte` from `state`, or -1.
    @inline(__always)
    func step(_ state: Int32, _ byte: UInt8) -> Int32 {
        next[Int(state) &* classCount &+ Int(classOf[Int(byte)])]
    }

    /// The initial state of a run.
    public func start() -> ConstraintState { ConstraintState(grammar: self) }
}
