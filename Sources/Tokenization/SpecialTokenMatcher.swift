// Special-token partitioning, llama.cpp `tokenizer_st_partition` (src/llama-vocab.cpp): every
// control, user-defined and unknown token, longest text first, cuts the still-raw text
// fragments at each of its occurrences (searching left to right, non-overlapping). Control and
// unknown tokens take part only when special parsing is on; user-defined ones always do.
//
// llama.cpp tries every special token against every fragment. A trie finds, in one pass, the
// special tokens that occur anywhere in the text; only those can cut a fragment, so running the
// same loop over just them gives the same fragments far faster (Gemma has 6,400 specials).

/// A piece of the input after partitioning.
enum TextFragment: Equatable {
    /// A special token matched in the text.
    case token(Int32)
    /// A byte range of the input still to be encoded.
    case text(Range<Int>)
}

struct SpecialTokenMatcher: Sendable {
    /// Special ids in matching order: longer text first, then lower id.
    private let ordered: [Int32]
    /// Rank of each special id in `ordered`.
    private let rank: [Int32: Int]
    private let texts: [Int32: [UInt8]]
    /// Whether an id is a control/unknown token (matched only when parsing specials).
    private let needsParseSpecial: [Int32: Bool]
    private let trie: ByteTrie

    init(texts allTexts: [[UInt8]], attributes: [TokenAttributes]) {
        var ids: [Int32] = []
        for (index, attr) in attributes.enumerated()
        where !attr.isDisjoint(with: [.control, .userDefined, .unknown]) && index < allTexts.count {
            ids.append(Int32(index))
        }
        ids.sort { a, b in
            let la = allTexts[Int(a)].count
            let lb = allTexts[Int(b)].count
            return la != lb ? la > lb : a < b
        }
        ordered = ids
        var rank: [Int32: Int] = [:]
        var texts: [Int32: [UInt8]] = [:]
        var needs: [Int32: Bool] = [:]
        var trie = ByteTrie()
        for (position, id) in ids.enumerated() {
            rank[id] = position
            texts[id] = allTexts[Int(id)]
            needs[id] = !attributes[Int(id)].isDisjoint(with: [.control, .unknown])
            trie.insert(allTexts[Int(id)], value: id)
        }
        self.rank = rank
        self.texts = texts
        needsParseSpecial = needs
        self.trie = trie
    }

    func partition(_ bytes: [UInt8], parseSpecial: Bool) -> [TextFragment] {
        partition(bytes, specialIn: parseSpecial ? [0..<bytes.count] : [])
    }

    /// Like `partition(_:parseSpecial:)`, but control and unknown tokens are matched only where
    /// their whole text lies inside one of `allowed` (byte ranges): a chat template's markup is
    /// parsed, the messages' content between it is not. User-defined tokens match everywhere.
    func partition(_ bytes: [UInt8], specialIn allowed: [Range<Int>]) -> [TextFragment] {
        let present = trie.valuesOccurring(in: bytes)
            .filter { !allowed.isEmpty || needsParseSpecial[$0] == false }
            .sorted { (rank[$0] ?? 0) < (rank[$1] ?? 0) }
        var fragments: [TextFragment] = [.text(0..<bytes.count)]
        for id in present {
            guard let needle = texts[id], !needle.isEmpty else { continue }
            let restricted = needsParseSpecial[id] ?? true
            var next: [TextFragment] = []
            next.reserveCapacity(fragments.count + 2)
            for fragment in fragments {
                guard case .text(let range) = fragment else {
                    next.append(fragment)
                    continue
                }
                var start = range.lowerBound
                var searchFrom = start
                while let match = Self.find(needle, in: bytes, from: searchFrom, to: range.upperBound) {
                    let found = match..<(match + needle.count)
                    if restricted && !allowed.contains(where: { $0.lowerBound <= found.lowerBound && found.upperBound <= $0.upperBound }) {
                        searchFrom = match + 1
                        continue
                    }
                    if match > start { next.append(.text(start..<match)) }
                    next.append(.token(id))
                    start = found.upperBound
                    searchFrom = start
                }
                if start < range.upperBound { next.append(.text(start..<range.upperBound)) }
            }
            fragments = next
        }
        return fragments
    }

    private static func find(_ needle: [UInt8], in haystack: [UInt8], from: Int, to: Int) -> Int? {
        guard let first = needle.first, to - from >= needle.count else { return nil }
        var i = from
        let last = to - needle.count
        while i <= last {
            if haystack[i] == first {
                var j = 1
                while j < needle.count, haystack[i + j] == needle[j] { j += 1 }
                if j == needle.count { return i }
            }
            i += 1
        }
        return nil
    }
}

/// A byte trie mapping token texts to ids.
struct ByteTrie: Sendable {
    private var children: [[UInt8: Int32]] = [[:]]
    private var values: [Int32?] = [nil]

    mutating func insert(_ key: [UInt8], value: Int32) {
        var node = 0
        for byte in key {
            if let child = children[node][byte] {
                node = Int(child)
            } else {
                children.append([:])
                values.append(nil)
                let child = Int32(children.count - 1)
                children[node][byte] = child
                node = Int(child)
            }
        }
        values[node] = value
    }

    /// Every stored value whose key occurs somewhere in `bytes`.
    func valuesOccurring(in bytes: [UInt8]) -> Set<Int32> {
        var found = Set<Int32>()
        for start in bytes.indices {
            var node = 0
            var i = start
            while i < bytes.count, let child = children[node][bytes[i]] {
                node = Int(child)
                if let value = values[node] { found.insert(value) }
                i += 1
            }
        }
        return found
    }
}
