/// What one automaton state allows, computed once by walking the token trie from that state
/// alone (the stack below it unknown), in the manner of XGrammar's adaptive token mask cache:
///
/// - `accepted`: tokens whose bytes all fit inside the rules pushed from here — allowed
///   whatever the stack below holds (as long as the pushes fit under the depth bound: see
///   `maxLocalDepth`);
/// - `dependent`: tokens that finish the state's rule part-way (after `offset` bytes) — the rest
///   of their bytes must be checked against the real caller at mask time;
/// - all others are rejected whatever the stack.
struct StateTokenTable: Sendable {
    enum Accepted: Sendable {
        case dense([UInt64])
        case sparse([Int32])
    }

    struct Dependent: Sendable {
        var token: Int32
        var offset: Int32
    }

    var accepted: Accepted
    var dependent: [Dependent]
    /// Frames pushed above the state by the deepest accepted or dependent prefix.
    var maxLocalDepth: Int32

    /// Bytes of memory held (for the cache bound).
    var footprint: Int {
        let acceptedBytes: Int
        switch accepted {
        case .dense(let words): acceptedBytes = words.count * 8
        case .sparse(let ids): acceptedBytes = ids.count * 4
        }
        return acceptedBytes + dependent.count * 8 + 64
    }

    var acceptedCount: Int {
        switch accepted {
        case .dense(let words): return words.reduce(0) { $0 + $1.nonzeroBitCount }
        case .sparse(let ids): return ids.count
        }
    }
}

/// The trie walk that builds a `StateTokenTable`.
struct StateTokenTableBuilder {
    let grammar: CompiledGrammar
    let vocabulary: TokenVocabulary
    // Copied out of the classes once: the walk touches them per trie node.
    private let trie: TokenTrie
    private let next: [Int32]
    private let classOf: [UInt8]
    private let classCount: Int
    private let isPlain: [Bool]
    private var bits: [UInt64]
    private var dependent: [StateTokenTable.Dependent] = []
    /// Byte offsets along the current trie path after which the start state's rule may end.
    private var exits: [Int32] = []
    private var maxLocalDepth: Int32 = 0

    init(grammar: CompiledGrammar, vocabulary: TokenVocabulary) {
        self.grammar = grammar
        self.vocabulary = vocabulary
        trie = vocabulary.trie
        next = grammar.next
        classOf = grammar.classOf
        classCount = grammar.classCount
        isPlain = grammar.isPlain
        bits = [UInt64](repeating: 0, count: (vocabulary.count + 63) / 64)
    }

    static func build(state: Int32, grammar: CompiledGrammar, vocabulary: TokenVocabulary) -> StateTokenTable {
        var builder = StateTokenTableBuilder(grammar: grammar, vocabulary: vocabulary)
        let trie = builder.trie
        let start = ParseStack(top: state, below: nil, depth: 0)
        var child = trie.firstChild(0)
        while child >= 0 {
            builder.walk(child, from: start, consumed: 0)
            child = trie.nextSibling[Int(child)]
        }
        return builder.finish()
    }

    private mutating func finish() -> StateTokenTable {
        let count = bits.reduce(0) { $0 + $1.nonzeroBitCount }
        let accepted: StateTokenTable.Accepted
        // Sparse below 1/32 of the vocabulary: four bytes an id against one bit a token.
        if count * 32 < vocabulary.count {
            var ids: [Int32] = []
            ids.reserveCapacity(count)
            for (index, word) in bits.enumerated() where word != 0 {
                var rest = word
                while rest != 0 {
                    ids.append(Int32(index * 64 + rest.trailingZeroBitCount))
                    rest &= rest - 1
                }
            }
            accepted = .sparse(ids)
        } else {
            accepted = .dense(bits)
        }
        return StateTokenTable(accepted: accepted, dependent: dependent, maxLocalDepth: maxLocalDepth)
    }

    @inline(__always)
    private mutating func acceptOwnTokens(_ node: Int32) {
        for index in Int(trie.tokenStart[Int(node)])..<Int(trie.ownEnd[Int(node)]) {
            let id = Int(trie.tokens[index])
            bits[id >> 6] |= 1 << UInt64(id & 63)
        }
    }

    /// Every token below `node` (inclusive) needs the caller after each recorded exit.
    private mutating func markDependent(_ node: Int32) {
        guard !exits.isEmpty else { return }
        for index in Int(trie.tokenStart[Int(node)])..<Int(trie.subtreeEnd[Int(node)]) {
            for offset in exits { dependent.append(.init(token: trie.tokens[index], offset: offset)) }
        }
    }

    /// One parse: the fast path while states need no stack work.
    private mutating func walk(_ node: Int32, from stack: ParseStack, consumed: Int32) {
        let target = next[Int(stack.top) &* classCount &+ Int(classOf[Int(trie.byte[Int(node)])])]
        guard target >= 0 else {
            markDependent(node)
            return
        }
        if stack.depth > maxLocalDepth { maxLocalDepth = stack.depth }
        acceptOwnTokens(node)
        let next = ParseStack(top: target, below: stack.below, depth: stack.depth)
        if isPlain[Int(target)] {
            var child = trie.firstChild(node)
            while child >= 0 {
                walk(child, from: next, consumed: consumed + 1)
                child = trie.nextSibling[Int(child)]
            }
        } else {
            var set = ParseSet()
            grammar.addClosure(of: next, to: &set)
            noteDepth(set)
            descend(node, into: set, consumed: consumed + 1)
        }
    }

    /// Several parses, or one that has just been through calls and returns.
    private mutating func walk(_ node: Int32, from stacks: [ParseStack], consumed: Int32) {
        let byte = trie.byte[Int(node)]
        var set = ParseSet()
        var stepped = false
        for stack in stacks {
            let target = grammar.step(stack.top, byte)
            guard target >= 0 else { continue }
            stepped = true
            if stack.depth > maxLocalDepth { maxLocalDepth = stack.depth }
            grammar.addClosure(of: ParseStack(top: target, below: stack.below, depth: stack.depth), to: &set)
        }
        guard stepped else {
            markDependent(node)
            return
        }
        acceptOwnTokens(node)
        noteDepth(set)
        descend(node, into: set, consumed: consumed + 1)
    }

    /// Frames pushed by a closure count even if no byte follows: at run time the same pushes
    /// must fit under the depth bound for the token to be taken.
    private mutating func noteDepth(_ set: ParseSet) {
        for stack in set.stacks where stack.depth > maxLocalDepth { maxLocalDepth = stack.depth }
    }

    private mutating func descend(_ node: Int32, into set: ParseSet, consumed: Int32) {
        if set.poppedBottom { exits.append(consumed) }
        defer { if set.poppedBottom { exits.removeLast() } }
        var child = trie.firstChild(node)
        while child >= 0 {
            if set.stacks.isEmpty {
                markDependent(child)
            } else if set.stacks.count == 1 {
                walk(child, from: set.stacks[0], consumed: consumed)
            } else {
                walk(child, from: set.stacks, consumed: consumed)
            }
            child = trie.nextSibling[Int(child)]
        }
    }
}
