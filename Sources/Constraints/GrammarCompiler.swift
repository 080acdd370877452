// GrammarDefinition → CompiledGrammar: a Thompson NFA per rule, determinised by subset
// construction over byte classes and call symbols, then analysed as a whole: which rules can
// match anything (productive), which can match the empty string (nullable), which states can
// still reach the end of their rule (others are cut off, so a run never enters a dead end),
// and whether a rule reaches itself without consuming a byte (left recursion, refused).

/// Compiles grammar definitions within `ConstraintLimits`.
struct GrammarCompiler {
    let limits: ConstraintLimits

    func compile(_ definition: GrammarDefinition) throws(ConstraintError) -> CompiledGrammar {
        var allSets: [ByteSet] = []
        var builder = NFABuilder(limits: limits)
        var nfas: [NFA] = []
        for rule in definition.rules {
            let nfa = try builder.build(rule.body, ruleName: rule.name)
            for state in nfa.states { allSets.append(contentsOf: state.bytes.map(\.set)) }
            nfas.append(nfa)
        }
        let classes = ByteClasses(refining: allSets)

        // Determinise each rule; states are numbered globally, rule after rule.
        var work = 0
        var tables = DFATables(classCount: classes.count)
        var ruleStart: [Int32] = []
        for (index, nfa) in nfas.enumerated() {
            ruleStart.append(try determinise(
                nfa, classes: classes, into: &tables, work: &work, ruleName: definition.rules[index].name))
        }
        var analysis = GrammarAnalysis(tables: tables, ruleStart: ruleStart)
        analysis.prune()
        guard analysis.productive[definition.root] else { throw .acceptsNothing(path: "") }
        if let rule = analysis.leftRecursiveRule() {
            throw .leftRecursion(rule: definition.rules[rule].name)
        }
        let pruned = analysis.tables
        return CompiledGrammar(
            classOf: classes.classOf, classCount: classes.count, next: pruned.next, isFinal: pruned.isFinal,
            callStart: pruned.callStart, callRule: pruned.callRule, callReturn: pruned.callReturn,
            ruleStart: ruleStart, ruleNames: definition.rules.map(\.name), root: ruleStart[definition.root],
            limits: limits)
    }

    /// Subset construction of one rule; returns the global id of its start state. A
    /// deterministic state is named by its "important" NFA states only (those with a byte or
    /// call edge, or the accepting one): states that only lead on by ε do not tell two subsets
    /// apart, and leaving them out keeps the subsets small.
    private func determinise(
        _ nfa: NFA, classes: ByteClasses, into tables: inout DFATables, work: inout Int, ruleName: String
    ) throws(ConstraintError) -> Int32 {
        let count = nfa.states.count
        let important = (0..<count).map { index in
            let state = nfa.states[index]
            return !state.bytes.isEmpty || !state.calls.isEmpty || Int32(index) == nfa.accept
        }
        // Classes each byte edge covers, computed once per edge.
        let edgeClasses: [[[Int]]] = nfa.states.map { state in state.bytes.map { classes.classes(in: $0.set) } }
        var closures = [[Int32]?](repeating: nil, count: count)
        var marks = [UInt32](repeating: 0, count: count)
        var generation: UInt32 = 0

        /// The important states reachable from `state` by ε-edges, sorted (memoised).
        func closure(of state: Int32) -> [Int32] {
            if let known = closures[Int(state)] { return known }
            generation &+= 1
            var stack = [state]
            var result: [Int32] = []
            while let current = stack.popLast() {
                if marks[Int(current)] == generation { continue }
                marks[Int(current)] = generation
                if important[Int(current)] { result.append(current) }
                stack.append(contentsOf: nfa.states[Int(current)].epsilon)
            }
            result.sort()
            work += result.count + 1
            closures[Int(state)] = result
            return result
        }

        func union(_ targets: [Int32]) -> [Int32] {
            if targets.count == 1 { return closure(of: targets[0]) }
            let parts = targets.map { closure(of: $0) }
            generation &+= 1
            var result: [Int32] = []
            for part in parts {
                for state in part where marks[Int(state)] != generation {
                    marks[Int(state)] = generation
                    result.append(state)
                }
            }
            result.sort()
            work += result.count
            return result
        }

        var ids: [[Int32]: Int32] = [:]
        var pending: [[Int32]] = []
        func id(of set: [Int32]) throws(ConstraintError) -> Int32 {
            if let existing = ids[set] { return existing }
            let id = tables.addState(final: set.contains(nfa.accept))
            guard tables.stateCount <= limits.maxDFAStates else {
                throw .tooLarge(message: "more than \(limits.maxDFAStates) automaton states (in '\(ruleName)')", path: "")
            }
            ids[set] = id
            pending.append(set)
            work += set.count
            return id
        }

        let start = try id(of: closure(of: nfa.start))
        var buckets = [[Int32]](repeating: [], count: classes.count)
        var used: [Int] = []
        while let set = pending.popLast() {
            guard let source = ids[set] else { continue }
            for cls in used { buckets[cls].removeAll(keepingCapacity: true) }
            used.removeAll(keepingCapacity: true)
            var calls: [(rule: Int32, target: Int32)] = []
            for state in set {
                let nfaState = nfa.states[Int(state)]
                for (edge, byteEdge) in nfaState.bytes.enumerated() {
                    for cls in edgeClasses[Int(state)][edge] {
                        if buckets[cls].isEmpty { used.append(cls) }
                        buckets[cls].append(byteEdge.target)
                    }
                    work += edgeClasses[Int(state)][edge].count
                }
                calls.append(contentsOf: nfaState.calls)
            }
            work += set.count
            guard work <= limits.maxCompileWork else {
                throw .tooLarge(message: "compiling would take more than \(limits.maxCompileWork) steps (in '\(ruleName)')", path: "")
            }
            // Classes with the same targets lead to the same state: compute each once.
            var done: [(classIndex: Int, target: Int32)] = []
            for cls in used {
                let targets = buckets[cls]
                let target: Int32
                if let known = done.first(where: { buckets[$0.classIndex] == targets }) {
                    target = known.target
                } else {
                    target = try id(of: union(targets))
                    done.append((cls, target))
                }
                tables.next[Int(source) * classes.count + cls] = target
            }
            if !calls.isEmpty {
                calls.sort { $0.rule < $1.rule || ($0.rule == $1.rule && $0.target < $1.target) }
                var index = 0
                while index < calls.count {
                    let rule = calls[index].rule
                    var targets: [Int32] = []
                    while index < calls.count, calls[index].rule == rule {
                        targets.append(calls[index].target)
                        index += 1
                    }
                    tables.calls[Int(source)].append((rule, try id(of: union(targets))))
                }
            }
        }
        return start
    }
}

/// Growable tables of deterministic states, before they are frozen into `CompiledGrammar`.
struct DFATables {
    let classCount: Int
    var next: [Int32] = []
    var isFinal: [Bool] = []
    var calls: [[(rule: Int32, target: Int32)]] = []

    init(classCount: Int) { self.classCount = classCount }

    var stateCount: Int { isFinal.count }

    mutating func addState(final: Bool) -> Int32 {
        next.append(contentsOf: repeatElement(-1, count: classCount))
        isFinal.append(final)
        calls.append([])
        return Int32(isFinal.count - 1)
    }

    var callStart: [Int32] {
        var offsets: [Int32] = [0]
        for list in calls { offsets.append(offsets[offsets.count - 1] + Int32(list.count)) }
        return offsets
    }

    var callRule: [Int32] { calls.flatMap { $0.map(\.rule) } }
    var callReturn: [Int32] { calls.flatMap { $0.map(\.target) } }
}
