/// A return state below the top of a parse stack. Frames are immutable and shared between the
/// stacks of a state and its clones, so copying a state copies no frames.
final class StackFrame: Sendable {
    let state: Int32
    let below: StackFrame?

    init(state: Int32, below: StackFrame?) {
        self.state = state
        self.below = below
    }
}

/// One parse of a pushdown run: the current state of the innermost rule, and the return
/// states of the rules that called it.
struct ParseStack: Sendable, Equatable {
    var top: Int32
    var below: StackFrame?
    /// Number of frames including the top.
    var depth: Int32

    static func == (a: ParseStack, b: ParseStack) -> Bool {
        guard a.top == b.top, a.depth == b.depth else { return false }
        var x = a.below
        var y = b.below
        while let left = x, let right = y {
            if left === right { return true }
            if left.state != right.state { return false }
            x = left.below
            y = right.below
        }
        return x == nil && y == nil
    }

    /// The stack its caller continues with when the top rule returns (nil at the bottom).
    var popped: ParseStack? {
        guard let below else { return nil }
        return ParseStack(top: below.state, below: below.below, depth: depth - 1)
    }
}

/// The parses alive after some input: stacks whose top can consume a byte, and whether the
/// bottom rule may end here (for the whole grammar: the output may stop; for a table walk
/// rooted at one state: the input left the rule the walk started in).
struct ParseSet: Sendable {
    var stacks: [ParseStack] = []
    var poppedBottom = false

    var isEmpty: Bool { stacks.isEmpty && !poppedBottom }
}

extension CompiledGrammar {
    /// Adds the stacks reachable from `stack` without consuming a byte (calls pushed, ended
    /// rules popped) to `set`, keeping those that can consume a byte.
    func addClosure(of stack: ParseStack, to set: inout ParseSet) {
        if isPlain[Int(stack.top)] {
            insert(stack, into: &set)
            return
        }
        var work = [stack]
        var visited: [ParseStack] = []
        while let current = work.popLast() {
            if visited.contains(current) { continue }
            visited.append(current)
            let state = Int(current.top)
            if hasBytes[state] { insert(current, into: &set) }
            if isFinal[state] {
                if let caller = current.popped { work.append(caller) } else { set.poppedBottom = true }
            }
            let calls = Int(callStart[state])..<Int(callStart[state + 1])
            guard !calls.isEmpty else { continue }
            let canPush = current.depth < Int32(limits.maxStackDepth)
            let depth = current.depth + 1
            for call in calls.reversed() {
                let callee = ruleStart[Int(callRule[call])]
                // A rule that may match nothing right away is skipped without a frame (so the
                // skip stays possible at the depth bound).
                if isFinal[Int(callee)] {
                    work.append(ParseStack(top: callReturn[call], below: current.below, depth: current.depth))
                }
                let returnState = Int(callReturn[call])
                if isFinal[returnState], !hasBytes[returnState], callStart[returnState] == callStart[returnState + 1] {
                    // A tail call: the caller would only return after it, so the callee returns
                    // in its place (right recursion does not grow the stack).
                    work.append(ParseStack(top: callee, below: current.below, depth: current.depth))
                } else if canPush {
                    let frame = StackFrame(state: callReturn[call], below: current.below)
                    work.append(ParseStack(top: callee, below: frame, depth: depth))
                }
            }
        }
    }

    private func insert(_ stack: ParseStack, into set: inout ParseSet) {
        guard set.stacks.count < limits.maxStacks, !set.stacks.contains(stack) else { return }
        set.stacks.append(stack)
    }

    /// The parses after `byte`.
    func advance(_ set: ParseSet, byte: UInt8) -> ParseSet {
        var result = ParseSet()
        for stack in set.stacks {
            let target = step(stack.top, byte)
            if target >= 0 { addClosure(of: ParseStack(top: target, below: stack.below, depth: stack.depth), to: &result) }
        }
        return result
    }

    /// Whether `bytes[offset...]` can be consumed from `set` (a depth-first search that stops
    /// at the first success and builds no intermediate sets for plain states).
    func accepts(_ bytes: [UInt8], from offset: Int, in set: ParseSet) -> Bool {
        guard offset < bytes.count else { return !set.isEmpty }
        for stack in set.stacks where accepts(bytes, from: offset, on: stack) { return true }
        return false
    }

    func accepts(_ bytes: [UInt8], from offset: Int, on stack: ParseStack) -> Bool {
        var stack = stack
        var offset = offset
        while true {
            let target = step(stack.top, bytes[offset])
            guard target >= 0 else { return false }
            offset += 1
            stack.top = target
            if isPlain[Int(target)] {
                if offset == bytes.count { return true }
            } else {
                var expanded = ParseSet()
                addClosure(of: stack, to: &expanded)
                // At the end, the state must lead somewhere (a push cut by the depth bound may
                // leave nothing), exactly as `advance` requires.
                if offset == bytes.count { return !expanded.isEmpty }
                return accepts(bytes, from: offset, in: ParseSet(stacks: expanded.stacks))
            }
        }
    }
}
