import Foundation  // NSLock

/// Which tokens of a vocabulary a constraint allows, state by state: the sampler's side of a
/// constraint. One per (compiled constraint, vocabulary); thread-safe, so every sequence using
/// the constraint shares it and the per-state tables it caches.
///
/// Use it as llama.cpp's grammar sampler does: sample, check the sampled token with
/// `allows(_:in:)` (a few byte steps), and only when it is rejected compute `mask(for:)` and
/// sample again from the allowed tokens.
public final class TokenMasker: @unchecked Sendable {
    public let grammar: CompiledGrammar
    public let vocabulary: TokenVocabulary
    /// Tables are not cached past this many bytes (they are then computed per call).
    public let maxCacheBytes: Int

    private let lock = NSLock()
    private var tables: [Int32: StateTokenTable] = [:]
    private var cachedBytes = 0

    public init(grammar: CompiledGrammar, vocabulary: TokenVocabulary, maxCacheBytes: Int = 128 << 20) {
        self.grammar = grammar
        self.vocabulary = vocabulary
        self.maxCacheBytes = maxCacheBytes
    }

    /// Whether `token` may come next. End-of-generation tokens: only when the state accepts.
    public func allows(_ token: Int32, in state: ConstraintState) -> Bool {
        if vocabulary.isEndOfGeneration(token) { return state.isAccepting }
        let bytes = vocabulary.bytes(token)
        guard !bytes.isEmpty else { return false }
        return grammar.accepts(Array(bytes), from: 0, in: state.parses)
    }

    /// Advances `state` by `token`; false (state unchanged) when the token is not allowed. An
    /// end-of-generation token leaves the state as it is: the sequence ends.
    @discardableResult
    public func advance(_ state: inout ConstraintState, by token: Int32) -> Bool {
        if vocabulary.isEndOfGeneration(token) { return state.isAccepting }
        let bytes = vocabulary.bytes(token)
        guard !bytes.isEmpty else { return false }
        return state.advance(bytes)
    }

    /// Every token allowed next.
    public func mask(for state: ConstraintState) -> TokenMask {
        var mask = TokenMask(count: vocabulary.count)
        for stack in state.parses.stacks {
            let table = table(for: stack.top)
            if stack.depth + table.maxLocalDepth > Int32(grammar.limits.maxStackDepth) {
                // Near the depth bound the cached answers may push too deep: walk exactly.
                exactWalk(ParseSet(stacks: [stack]), into: &mask)
                continue
            }
            switch table.accepted {
            case .dense(let words): mask.formUnion(words: words)
            case .sparse(let ids): for id in ids { mask.insert(id) }
            }
            guard !table.exits.isEmpty, let caller = stack.popped else { continue }
            var continuation = ParseSet()
            grammar.addClosure(of: caller, to: &continuation)
            guard !continuation.stacks.isEmpty else { continue }
            let trie = vocabulary.trie
            for exit in table.exits {
                var child = trie.firstChild(exit.node)
                while child >= 0 {
                    exactWalk(child, continuation, &mask)
                    child = trie.nextSibling[Int(child)]
                }
            }
        }
        if state.isAccepting {
            for id in vocabulary.endOfGeneration { mask.insert(id) }
        }
        return mask
    }

    /// The mask by a plain walk of the whole trie with the full state, using no tables: the
    /// reference `mask(for:)` is tested against, and the path near the depth bound.
    public func referenceMask(for state: ConstraintState) -> TokenMask {
        var mask = TokenMask(count: vocabulary.count)
        exactWalk(state.parses, into: &mask)
        if state.isAccepting {
            for id in vocabulary.endOfGeneration { mask.insert(id) }
        }
        return mask
    }

    /// Number of states whose tables are cached, and their bytes.
    public var cacheStatistics: (states: Int, bytes: Int) {
        lock.lock()
        defer { lock.unlock() }
        return (tables.count, cachedBytes)
    }

    func table(for state: Int32) -> StateTokenTable {
        lock.lock()
        if let table = tables[state] {
            lock.unlock()
            return table
        }
        lock.unlock()
        let table = StateTokenTableBuilder.build(state: state, grammar: grammar, vocabulary: vocabulary)
        lock.lock()
        defer { lock.unlock() }
        if let raced = tables[state] { return raced }
        if cachedBytes + table.footprint <= maxCacheBytes {
            tables[state] = table
            cachedBytes += table.footprint
        }
        return table
    }

    private func exactWalk(_ set: ParseSet, into mask: inout TokenMask) {
        let trie = vocabulary.trie
        var child = trie.firstChild(0)
        while child >= 0 {
            exactWalk(child, set, &mask)
            child = trie.nextSibling[Int(child)]
        }
    }

    private func exactWalk(_ node: Int32, _ set: ParseSet, _ mask: inout TokenMask) {
        let trie = vocabulary.trie
        let next = grammar.advance(set, byte: trie.byte[Int(node)])
        guard !next.isEmpty else { return }
        for index in Int(trie.tokenStart[Int(node)])..<Int(trie.ownEnd[Int(node)]) { mask.insert(trie.tokens[index]) }
        guard !next.stacks.isEmpty else { return }
        var child = trie.firstChild(node)
        while child >= 0 {
            exactWalk(child, next, &mask)
            child = trie.nextSibling[Int(child)]
        }
    }
}
