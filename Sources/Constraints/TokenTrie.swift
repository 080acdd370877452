/// A trie of the vocabulary's byte strings in preorder: a node's first child is the next node,
/// its siblings are linked, and the tokens of a whole subtree are one contiguous run of
/// `tokens`, so "every token below here" is a range. Node 0 is the root (the empty prefix).
struct TokenTrie: Sendable {
    /// The byte on the edge into each node (unused for the root).
    var byte: [UInt8] = []
    /// Next sibling of each node, or -1.
    var nextSibling: [Int32] = []
    /// Whether a node has children (its first child is then node + 1).
    var hasChildren: [Bool] = []
    /// Tokens ending at node n: `tokens[tokenStart[n]..<ownEnd[n]]`; tokens in its subtree:
    /// `tokens[tokenStart[n]..<subtreeEnd[n]]`.
    var tokenStart: [Int32] = []
    var ownEnd: [Int32] = []
    var subtreeEnd: [Int32] = []
    var tokens: [Int32] = []

    init(storage: [UInt8], offsets: [Int32]) {
        let ids = (0..<(offsets.count - 1)).filter { offsets[$0 + 1] > offsets[$0] }
        let sorted = ids.sorted { a, b in
            storage[Int(offsets[a])..<Int(offsets[a + 1])].lexicographicallyPrecedes(storage[Int(offsets[b])..<Int(offsets[b + 1])])
        }
        func length(_ id: Int) -> Int { Int(offsets[id + 1] - offsets[id]) }
        func byteAt(_ id: Int, _ position: Int) -> UInt8 { storage[Int(offsets[id]) + position] }

        // Iterative preorder construction over the sorted ids.
        struct Frame {
            var node: Int32
            var range: Range<Int>
            var depth: Int
            var cursor: Int
            var previousChild: Int32
        }
        tokens.reserveCapacity(sorted.count)
        func open(_ range: Range<Int>, depth: Int, byte edge: UInt8) -> Frame {
            let node = Int32(byte.count)
            byte.append(edge)
            nextSibling.append(-1)
            hasChildren.append(false)
            tokenStart.append(Int32(tokens.count))
            var cursor = range.lowerBound
            while cursor < range.upperBound, length(sorted[cursor]) == depth {
                tokens.append(Int32(sorted[cursor]))
                cursor += 1
            }
            ownEnd.append(Int32(tokens.count))
            subtreeEnd.append(0)
            return Frame(node: node, range: range, depth: depth, cursor: cursor, previousChild: -1)
        }
        var stack = [open(0..<sorted.count, depth: 0, byte: 0)]
        while var frame = stack.popLast() {
            guard frame.cursor < frame.range.upperBound else {
                subtreeEnd[Int(frame.node)] = Int32(tokens.count)
                continue
            }
            let edge = byteAt(sorted[frame.cursor], frame.depth)
            var end = frame.cursor
            while end < frame.range.upperBound, byteAt(sorted[end], frame.depth) == edge { end += 1 }
            let child = open(frame.cursor..<end, depth: frame.depth + 1, byte: edge)
            if frame.previousChild >= 0 { nextSibling[Int(frame.previousChild)] = child.node } else { hasChildren[Int(frame.node)] = true }
            frame.previousChild = child.node
            frame.cursor = end
            stack.append(frame)
            stack.append(child)
        }
    }

    /// The first child of `node`, or -1.
    @inline(__always)
    func firstChild(_ node: Int32) -> Int32 { hasChildren[Int(node)] ? node + 1 : -1 }
}
