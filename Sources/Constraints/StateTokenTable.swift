/// What one automaton state allows, computed once by walking the token trie from that state
/// alone (the stack below it unknown), in the manner of XGrammar's adaptive token mask cache:
///
/// - `accepted`: tokens whose bytes all fit inside the rules pushed from here — allowed
///   whatever the stack below holds (as long as the pushes fit under the depth bound: see
///   `maxLocalDepth`);
/// - `exits`: trie nodes (prefixes) after which the state's rule may end: the tokens below
///   such a node continue in the caller, so at mask time the node's subtree is walked with the
///   real caller's parses — a walk the caller prunes after a byte or two;
/// - all others are rejected whatever the stack.
struct StateTokenTable: Sendable {
    enum Accepted: Sendable {
        case dense([UInt64])
        case sparse([Int32])
    }

    /// A prefix after which the rule may end: its trie node.
    struct Exit: Sendable {
        var node: Int32
    }

    var accepted: Accepted
    var exits: [Exit]
    /// Frames pushed above the state by the deepest prefix walked.
    var maxLocalDepth: Int32

    /// Bytes of memory held (for the cache bound).
    var footprint: Int {
        let acceptedBytes: Int
        switch accepted {
        case .dense(let words): acceptedBytes = words.count * 8
        case .sparse(let ids): acceptedBytes = ids.count * 4
        }
        return acceptedBytes + exits.count * 4 + 64
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
    private var exits: [StateTokenTable.Exit] = []
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
            builder.walk(child, from: start)
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
        return StateTokenTable(accepted: accepted, exits: exits, maxLocalDepth: maxLocalDepth)
    }

    @inline(__always)
    private mutating func acceptOwnTokens(_ node: Int32) {
        for index in Int(trie.tokenStart[Int(node)])..<Int(trie.ownEnd[Int(node)]) {
            let id = Int(trie.tokens[index])
            bits[id >> 6] |= 1 << UInt64(id & 63)
        }
    }

    /// One parse: the fast path while states need no stack work.
    private mutating func walk(_ node: Int32, from stack: ParseStack) {
        let target = next[Int(stack.top) &* classCount &+ Int(classOf[Int(trie.byte[Int(node)])])]
        guard target >= 0 else { return }
        if stack.depth > maxLocalDepth { maxLocalDepth = stack.depth }
        let next = ParseStack(top: target, below: stack.below, depth: stack.depth)
        if isPlain[Int(target)] {
            acceptOwnTokens(node)
            var child = trie.firstChild(node)
            while child >= 0 {
                walk(child, from: next)
                child = trie.nextSibling[Int(child)]
            }
        } else {
            var set = ParseSet()
            grammar.addClosure(of: next, to: &set)
            guard !set.isEmpty else { return }  // as `advance`: the byte must lead somewhere
            acceptOwnTokens(node)
            noteDepth(set)
            descend(node, into: set)
        }
    }

    /// Several parses, or one that has just been through calls and returns.
    private mutating func walk(_ node: Int32, from stacks: [ParseStack]) {
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
        guard stepped, !set.isEmpty else { return }
        acceptOwnTokens(node)
        noteDepth(set)
        descend(node, into: set)
    }

    /// Frames pushed by a closure count even if no byte follows: at run time the same pushes
    /// must fit under the depth bound for the token to be taken.
    private mutating func noteDepth(_ set: ParseSet) {
        for stack in set.stacks where stack.depth > maxLocalDepth { maxLocalDepth = stack.depth }
    }

    private mutating func descend(_ node: Int32, into set: ParseSet) {
        if set.poppedBottom, trie.hasChildren[Int(node)] { exits.append(.init(node: node)) }
        var child = trie.firstChild(node)
        while child >= 0 {
            if set.stacks.count == 1 {
                walk(child, from: set.stacks[0])
            } else if !set.stacks.isEmpty {
                walk(child, from: set.stacks)
            }
            child = trie.nextSibling[Int(child)]
        }
    }
}
