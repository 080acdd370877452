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
        // A worklist: when a rule turns productive, only its callers need another look.
        let callers = self.callers()
        var pending = Array(ruleStart.indices.reversed())
        var queued = [Bool](repeating: true, count: ruleStart.count)
        while let rule = pending.popLast() {
            queued[rule] = false
            guard !productive[rule], reachesFinal(rule) else { continue }
            productive[rule] = true
            for caller in callers[rule] where !productive[caller] && !queued[caller] {
                queued[caller] = true
                pending.append(caller)
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

    /// For each rule, the rules that call it.
    private func callers() -> [[Int]] {
        var result = [[Int]](repeating: [], count: ruleStart.count)
        for rule in ruleStart.indices {
            var callees = Set<Int32>()
            for state in states(of: rule) { for call in tables.calls[state] { callees.insert(call.rule) } }
            for callee in callees { result[Int(callee)].append(rule) }
        }
        return result
    }

    /// The states of `rule` (rules own consecutive ranges, in rule order).
    private func states(of rule: Int) -> Range<Int> {
        Int(ruleStart[rule])..<(rule + 1 < ruleStart.count ? Int(ruleStart[rule + 1]) : tables.stateCount)
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
        let callers = self.callers()
        var pending = Array((0..<rules).reversed())
        var queued = [Bool](repeating: true, count: rules)
        while let rule = pending.popLast() {
            queued[rule] = false
            guard !nullable[rule], epsilonReach(rule, nullable: nullable).contains(where: { tables.isFinal[Int($0)] }) else { continue }
            nullable[rule] = true
            for caller in callers[rule] where !nullable[caller] && !queued[caller] {
                queued[caller] = true
                pending.append(caller)
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
