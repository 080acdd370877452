// Byte-level BPE as llama.cpp runs it (`llm_tokenizer_bpe_session::tokenize` in
// src/llama-vocab.cpp): each pre-tokenized word, written in the GPT-2 byte alphabet, starts as
// one symbol per character; the adjacent pair with the lowest merge rank (ties: leftmost)
// merges until no ranked pair is left; each final symbol becomes its token, or else its
// single bytes' tokens where those exist.

struct BytePairEncoder: Sendable {
    let tokenIDs: [[UInt8]: Int32]
    /// Merge rank keyed by the UTF-8 of `"left right"`; the first listing of a pair wins.
    let ranks: [[UInt8]: Int]
    /// llama.cpp `ignore_merges`: a word that is itself a token is emitted whole.
    let ignoreMerges: Bool

    init(tokenIDs: [[UInt8]: Int32], merges: [String], ignoreMerges: Bool) {
        self.tokenIDs = tokenIDs
        self.ignoreMerges = ignoreMerges
        var ranks: [[UInt8]: Int] = [:]
        ranks.reserveCapacity(merges.count)
        for (rank, merge) in merges.enumerated() {
            let bytes = Array(merge.utf8)
            // llama.cpp splits at the first space after the first byte; no space → unusable.
            guard bytes.count > 1, bytes[1...].contains(0x20) else { continue }
            if ranks[bytes] == nil { ranks[bytes] = rank }
        }
        self.ranks = ranks
    }

    private struct Bigram: HeapElement {
        var left: Int
        var right: Int
        var rank: Int
        var size: Int
        /// llama.cpp `llm_bigram_bpe::comparator`: lower rank first, then lower left index.
        static func outranks(_ a: Bigram, _ b: Bigram) -> Bool {
            a.rank < b.rank || (a.rank == b.rank && a.left < b.left)
        }
    }

    /// Encodes one byte-level-encoded word and appends the ids to `output`.
    func encode(word: [UInt8], into output: inout [Int32]) {
        guard !word.isEmpty else { return }
        if ignoreMerges, let id = tokenIDs[word] {
            output.append(id)
            return
        }
        var symbols = utf8CharacterSymbols(word, in: 0..<word.count)
        var queue = BinaryHeap<Bigram>()

        func addBigram(_ left: Int, _ right: Int) {
            guard left >= 0, right >= 0 else { return }
            let l = symbols[left]
            let r = symbols[right]
            var key = Array(word[l.start..<(l.start + l.length)])
            key.append(0x20)
            key.append(contentsOf: word[r.start..<(r.start + r.length)])
            guard let rank = ranks[key] else { return }
            queue.push(Bigram(left: left, right: right, rank: rank, size: l.length + r.length))
        }

        for i in symbols.indices.dropFirst() {
            addBigram(i - 1, i)
        }
        while let bigram = queue.pop() {
            let left = symbols[bigram.left]
            let right = symbols[bigram.right]
            // Outdated pair: the symbols are contiguous and keep their start, so the pair's
            // text is unchanged exactly when both are alive and the total length matches.
            if left.length == 0 || right.length == 0 || left.length + right.length != bigram.size {
                continue
            }
            symbols[bigram.left].length += right.length
            symbols[bigram.right].length = 0
            symbols[bigram.left].next = right.next
            if right.next >= 0 {
                symbols[right.next].prev = bigram.left
            }
            addBigram(symbols[bigram.left].prev, bigram.left)
            addBigram(bigram.left, symbols[bigram.left].next)
        }

        for symbol in symbols where symbol.length > 0 {
            let piece = Array(word[symbol.start..<(symbol.start + symbol.length)])
            if let id = tokenIDs[piece] {
                output.append(id)
            } else {
                for byte in piece {
                    if let id = tokenIDs[[byte]] { output.append(id) }
                }
            }
        }
    }
}
