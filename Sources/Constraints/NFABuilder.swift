/// Thompson construction of one rule's nondeterministic automaton: states with ε-edges, byte
/// edges and call edges (call a rule, continue at the target when it returns).
struct NFA {
    struct State {
        var epsilon: [Int32] = []
        var bytes: [(set: ByteSet, target: Int32)] = []
        var calls: [(rule: Int32, target: Int32)] = []
    }

    var states: [State] = []
    var start: Int32 = 0
    var accept: Int32 = 0
}

/// Builds NFAs, counting states against the shared limit.
struct NFABuilder {
    let limits: ConstraintLimits
    /// States built so far over all rules.
    private(set) var totalStates = 0

    init(limits: ConstraintLimits) { self.limits = limits }

    mutating func build(_ body: GrammarExpression, ruleName: String) throws(ConstraintError) -> NFA {
        var nfa = NFA()
        nfa.start = try newState(&nfa, ruleName)
        nfa.accept = try emit(body, from: nfa.start, into: &nfa, ruleName)
        return nfa
    }

    private mutating func newState(_ nfa: inout NFA, _ ruleName: String) throws(ConstraintError) -> Int32 {
        totalStates += 1
        guard totalStates <= limits.maxNFAStates else {
            throw .tooLarge(message: "more than \(limits.maxNFAStates) automaton states (in '\(ruleName)')", path: "")
        }
        nfa.states.append(NFA.State())
        return Int32(nfa.states.count - 1)
    }

    /// Emits `expression` starting at `from`; returns the state where it ends.
    private mutating func emit(
        _ expression: GrammarExpression, from: Int32, into nfa: inout NFA, _ ruleName: String
    ) throws(ConstraintError) -> Int32 {
        switch expression {
        case .byteSet(let set):
            let target = try newState(&nfa, ruleName)
            if !set.isEmpty { nfa.states[Int(from)].bytes.append((set, target)) }
            return target
        case .sequence(let items):
            var current = from
            for item in items { current = try emit(item, from: current, into: &nfa, ruleName) }
            return current
        case .choice(let items):
            let end = try newState(&nfa, ruleName)
            for item in items {
                let branchStart = try newState(&nfa, ruleName)
                nfa.states[Int(from)].epsilon.append(branchStart)
                let branchEnd = try emit(item, from: branchStart, into: &nfa, ruleName)
                nfa.states[Int(branchEnd)].epsilon.append(end)
            }
            return end
        case .repetition(let item, let min, let max):
            guard min >= 0, max.map({ $0 >= min }) ?? true else { return try newState(&nfa, ruleName) }
            guard min <= limits.maxRepetition, (max ?? 0) <= limits.maxRepetition else {
                throw .tooLarge(message: "a repetition bound above \(limits.maxRepetition) (in '\(ruleName)')", path: "")
            }
            var current = from
            for _ in 0..<min { current = try emit(item, from: current, into: &nfa, ruleName) }
            guard let max else {
                let loop = try newState(&nfa, ruleName)
                nfa.states[Int(current)].epsilon.append(loop)
                let bodyStart = try newState(&nfa, ruleName)
                nfa.states[Int(loop)].epsilon.append(bodyStart)
                let bodyEnd = try emit(item, from: bodyStart, into: &nfa, ruleName)
                nfa.states[Int(bodyEnd)].epsilon.append(loop)
                return loop
            }
            let end = try newState(&nfa, ruleName)
            nfa.states[Int(current)].epsilon.append(end)
            for _ in min..<max {
                current = try emit(item, from: current, into: &nfa, ruleName)
                nfa.states[Int(current)].epsilon.append(end)
            }
            return end
        case .list(let items, let separator):
            // Two states per position: nothing written yet (no separator before the next
            // item), or something written (a separator first).
            var none: Int32? = from
            var some: Int32?
            for item in items {
                let nextNone = item.required ? nil : none
                var nextSome = try newState(&nfa, ruleName)
                if let none {
                    let end = try emit(item.body, from: none, into: &nfa, ruleName)
                    nfa.states[Int(end)].epsilon.append(nextSome)
                }
                if let some {
                    let afterSeparator = try emit(separator, from: some, into: &nfa, ruleName)
                    let end = try emit(item.body, from: afterSeparator, into: &nfa, ruleName)
                    nfa.states[Int(end)].epsilon.append(nextSome)
                    if !item.required { nfa.states[Int(some)].epsilon.append(nextSome) }
                }
                if item.repeatable {
                    let afterSeparator = try emit(separator, from: nextSome, into: &nfa, ruleName)
                    let end = try emit(item.body, from: afterSeparator, into: &nfa, ruleName)
                    let loop = nextSome
                    nextSome = try newState(&nfa, ruleName)
                    nfa.states[Int(loop)].epsilon.append(nextSome)
                    nfa.states[Int(end)].epsilon.append(loop)
                }
                none = nextNone
                some = nextSome
            }
            let end = try newState(&nfa, ruleName)
            if let none { nfa.states[Int(none)].epsilon.append(end) }
            if let some { nfa.states[Int(some)].epsilon.append(end) }
            return end
        case .rule(let rule):
            let target = try newState(&nfa, ruleName)
            nfa.states[Int(from)].calls.append((Int32(rule), target))
            return target
        }
    }
}
