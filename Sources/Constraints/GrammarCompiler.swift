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

    /// Subset construction of one rule; returns the global id of its start state.
    private func determinise(
        _ nfa: NFA, classes: ByteClasses, into tables: inout DFATables, work: inout Int, ruleName: String
    ) throws(ConstraintError) -> Int32 {
        // Classes each byte edge covers, computed once per edge.
        var edgeClasses: [[[Int]]] = nfa.states.map { state in state.bytes.map { classes.classes(in: $0.set) } }
        defer { edgeClasses.removeAll() }

        var ids: [[Int32]: Int32] = [:]
        var pending: [[Int32]] = []
        var marks = [UInt32](repeating: 0, count: nfa.states.count)
        var generation: UInt32 = 0

        func closure(_ seeds: [Int32]) -> [Int32] {
            generation &+= 1
            var stack = seeds
            var result: [Int32] = []
            while let state = stack.popLast() {
                if marks[Int(state)] == generation { continue }
                marks[Int(state)] = generation
                result.append(state)
                stack.append(contentsOf: nfa.states[Int(state)].epsilon)
            }
            return result.sorted()
        }

        func id(of set: [Int32]) throws(ConstraintError) -> Int32 {
            if let existing = ids[set] { return existing }
            let id = tables.addState(final: set.contains(nfa.accept))
            guard tables.stateCount <= limits.maxDFAStates else {
                throw .tooLarge(message: "more than \(limits.maxDFAStates) automaton states (in '\(ruleName)')", path: "")
            }
            ids[set] = id
            pending.append(set)
            return id
        }

        let start = try id(of: closure([nfa.start]))
        var buckets = [[Int32]](repeating: [], count: classes.count)
        while let set = pending.popLast() {
            guard let source = ids[set] else { continue }
            for index in buckets.indices { buckets[index].removeAll(keepingCapacity: true) }
            var calls: [Int32: [Int32]] = [:]
            for state in set {
                let nfaState = nfa.states[Int(state)]
                for (edge, byteEdge) in nfaState.bytes.enumerated() {
                    for cls in edgeClasses[Int(state)][edge] { buckets[cls].append(byteEdge.target) }
                    work += edgeClasses[Int(state)][edge].count
                }
                for call in nfaState.calls { calls[call.rule, default: []].append(call.target) }
            }
            work += set.count
            guard work <= limits.maxCompileWork else {
                throw .tooLarge(message: "compiling would take more than \(limits.maxCompileWork) steps (in '\(ruleName)')", path: "")
            }
            for cls in 0..<classes.count where !buckets[cls].isEmpty {
                let target = try id(of: closure(buckets[cls]))
                tables.next[Int(source) * classes.count + cls] = target
            }
            for rule in calls.keys.sorted() {
                let target = try id(of: closure(calls[rule] ?? []))
                tables.calls[Int(source)].append((rule, target))
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
