/// Whole-grammar facts computed over the determinised rules, and the pruning they allow.
struct GrammarAnalysis {
    var tables: DFATables
    let ruleStart: [Int32]
    /// Rules that match at least one finite byte string.
    private(set) var productive: [Bool]

    init(tables: DFATables, ruleStart: [Int32]) {
        self.tables = tables
        self.ruleStart = ruleStart
        productive = [Bool](repeating: false, count: ruleStart.count)
    }

    private var classCount: Int { tables.classCount }

    private func byteTargets(_ state: Int) -> some Sequence<Int32> {
        tables.next[(state * classCount)..<((state + 1) * classCount)].lazy.filter { $0 >= 0 }
    }

    /// Finds productive rules, then cuts every edge into a state that cannot reach the end of
    /// its rule and every call of a rule that matches nothing.
    mutating func prune() {
        var changed = true
        while changed {
            changed = false
            for rule in ruleStart.indices where !productive[rule] && reachesFinal(rule) {
                productive[rule] = true
                changed = true
            }
        }
        // States that can still reach their rule's end, by a reverse search from the finals.
        let count = tables.stateCount
        var predecessors = [[Int32]](repeating: [], count: count)
        for state in 0..<count {
            for target in byteTargets(state) { predecessors[Int(target)].append(Int32(state)) }
            for call in tables.calls[state] where productive[Int(call.rule)] {
                predecessors[Int(call.target)].append(Int32(state))
            }
        }
        var alive = [Bool](repeating: false, count: count)
        var queue: [Int32] = (0..<count).filter { tables.isFinal[$0] }.map { Int32($0) }
        for state in queue { alive[Int(state)] = true }
        while let state = queue.popLast() {
            for source in predecessors[Int(state)] where !alive[Int(source)] {
                alive[Int(source)] = true
                queue.append(source)
            }
        }
        for state in 0..<count {
            for cls in 0..<classCount {
                let index = state * classCount + cls
                let target = tables.next[index]
                if target >= 0 && (!alive[Int(target)] || !alive[state]) { tables.next[index] = -1 }
            }
            tables.calls[state].removeAll { !alive[state] || !productive[Int($0.rule)] || !alive[Int($0.target)] }
        }
    }

    /// Whether `rule` can reach one of its final states using byte edges and calls of rules
    /// already known to be productive.
    private func reachesFinal(_ rule: Int) -> Bool {
        var seen = Set<Int32>([ruleStart[rule]])
        var queue = [ruleStart[rule]]
        while let state = queue.popLast() {
            if tables.isFinal[Int(state)] { return true }
            var targets = Array(byteTargets(Int(state)))
            targets += tables.calls[Int(state)].filter { productive[Int($0.rule)] }.map(\.target)
            for target in targets where seen.insert(target).inserted { queue.append(target) }
        }
        return false
    }

    /// A rule that can call itself again before consuming a byte, if any.
    func leftRecursiveRule() -> Int? {
        let rules = ruleStart.count
        // Nullable rules: reach a final state through calls of nullable rules only.
        var nullable = [Bool](repeating: false, count: rules)
        var changed = true
        while changed {
            changed = false
            for rule in 0..<rules where !nullable[rule] {
                if epsilonReach(rule, nullable: nullable).contains(where: { tables.isFinal[Int($0)] }) {
                    nullable[rule] = true
                    changed = true
                }
            }
        }
        // Left-call graph: rule → rules it may call before consuming a byte.
        var leftCalls = [[Int]](repeating: [], count: rules)
        for rule in 0..<rules {
            for state in epsilonReach(rule, nullable: nullable) {
                leftCalls[rule].append(contentsOf: tables.calls[Int(state)].map { Int($0.rule) })
            }
        }
        // Depth-first search for a cycle (0 unvisited, 1 on the path, 2 done).
        var color = [UInt8](repeating: 0, count: rules)
        for root in 0..<rules where color[root] == 0 {
            var stack: [(rule: Int, edge: Int)] = [(root, 0)]
            color[root] = 1
            while let top = stack.last {
                if top.edge < leftCalls[top.rule].count {
                    stack[stack.count - 1].edge += 1
                    let callee = leftCalls[top.rule][top.edge]
                    if color[callee] == 1 { return callee }
                    if color[callee] == 0 {
                        color[callee] = 1
                        stack.append((callee, 0))
                    }
                } else {
                    color[top.rule] = 2
                    stack.removeLast()
                }
            }
        }
        return nil
    }

    /// States of `rule` reachable from its start without consuming a byte.
    private func epsilonReach(_ rule: Int, nullable: [Bool]) -> [Int32] {
        var seen = Set<Int32>([ruleStart[rule]])
        var queue = [ruleStart[rule]]
        var result: [Int32] = []
        while let state = queue.popLast() {
            result.append(state)
            for call in tables.calls[Int(state)] where nullable[Int(call.rule)] {
                if seen.insert(call.target).inserted { queue.append(call.target) }
            }
        }
        return result
    }
}
