// SentencePiece BPE as llama.cpp runs it (`llm_tokenizer_spm_session::tokenize` in
// src/llama-vocab.cpp): start from UTF-8 characters, repeatedly merge the adjacent pair whose
// concatenation is a token with the highest score (ties: leftmost), then emit each final
// symbol as its token or, failing that, as byte tokens `<0xNN>`.

/// A symbol of the work list: a byte range of the text, linked to its neighbours.
struct LinkedSymbol {
    var start: Int
    var length: Int
    var prev: Int
    var next: Int
}

/// Splits UTF-8 bytes into one symbol per character (llama.cpp `unicode_len_utf8`: the lead
/// byte's high nibble gives the length, clamped to the bytes left).
func utf8CharacterSymbols(_ bytes: [UInt8], in range: Range<Int>) -> [LinkedSymbol] {
    var symbols: [LinkedSymbol] = []
    symbols.reserveCapacity(range.count)
    var offset = range.lowerBound
    while offset < range.upperBound {
        let length = min(utf8SequenceLength(lead: bytes[offset]), range.upperBound - offset)
        let index = symbols.count
        offset += length
        symbols.append(LinkedSymbol(start: offset - length, length: length, prev: index - 1,
                                    next: offset == range.upperBound ? -1 : index + 1))
    }
    return symbols
}

/// Length of the UTF-8 sequence a lead byte announces (1 for continuation or invalid bytes).
func utf8SequenceLength(lead: UInt8) -> Int {
    switch lead >> 4 {
    case 0xC, 0xD: return 2
    case 0xE: return 3
    case 0xF: return 4
    default: return 1
    }
}

struct SentencePieceEncoder: Sendable {
    let tokenIDs: [[UInt8]: Int32]
    let scores: [Float]
    /// Token for each byte value: `<0xNN>`, else the one-byte token, else nil.
    let byteTokens: [Int32?]
    let unknownID: Int32?

    init(tokenIDs: [[UInt8]: Int32], scores: [Float], unknownID: Int32?) {
        self.tokenIDs = tokenIDs
        self.scores = scores
        self.unknownID = unknownID
        byteTokens = (0..<256).map { b in
            let hex = String(b, radix: 16, uppercase: true)
            let name = "<0x" + (hex.count == 1 ? "0" + hex : hex) + ">"
            return tokenIDs[Array(name.utf8)] ?? tokenIDs[[UInt8(b)]]
        }
    }

    private struct Bigram: HeapElement {
        var left: Int
        var right: Int
        var score: Float
        var size: Int
        /// llama.cpp `llm_bigram_spm::comparator`: higher score first, then lower left index.
        static func outranks(_ a: Bigram, _ b: Bigram) -> Bool {
            a.score > b.score || (a.score == b.score && a.left < b.left)
        }
    }

    /// Encodes already-escaped text (spaces replaced by U+2581) and appends the ids to `output`.
    func encode(_ text: [UInt8], into output: inout [Int32]) {
        guard !text.isEmpty else { return }
        var symbols = utf8CharacterSymbols(text, in: 0..<text.count)
        var queue = BinaryHeap<Bigram>()

        func tryAddBigram(_ left: Int, _ right: Int) {
            guard left >= 0, right >= 0 else { return }
            let start = symbols[left].start
            let size = symbols[left].length + symbols[right].length
            guard let id = tokenIDs[Array(text[start..<(start + size)])] else { return }
            let score = Int(id) < scores.count ? scores[Int(id)] : 0
            queue.push(Bigram(left: left, right: right, score: score, size: size))
        }

        for i in symbols.indices.dropFirst() {
            tryAddBigram(i - 1, i)
        }
        while let bigram = queue.pop() {
            let left = symbols[bigram.left]
            let right = symbols[bigram.right]
            // Skip pairs whose symbols have changed since the pair was queued.
            if left.length == 0 || right.length == 0 || left.length + right.length != bigram.size {
                continue
            }
            symbols[bigram.left].length += right.length
            symbols[bigram.right].length = 0
            symbols[bigram.left].next = right.next
            if right.next >= 0 {
                symbols[right.next].prev = bigram.left
            }
            tryAddBigram(symbols[bigram.left].prev, bigram.left)
            tryAddBigram(bigram.left, symbols[bigram.left].next)
        }

        var i = 0
        while i != -1 {
            let symbol = symbols[i]
            let piece = Array(text[symbol.start..<(symbol.start + symbol.length)])
            if let id = tokenIDs[piece] {
                output.append(id)
            } else {
                // Byte fallback. llama.cpp aborts when a byte has no token; we use <unk> or skip.
                for byte in piece {
                    if let id = byteTokens[Int(byte)] ?? unknownID {
                        output.append(id)
                    }
                }
            }
            i = symbol.next
        }
    }
}
