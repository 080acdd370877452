/// An element of a `BinaryHeap`, ordered by `outranks` (the element that outranks pops first).
protocol HeapElement {
    static func outranks(_ a: Self, _ b: Self) -> Bool
}

/// A plain array-backed priority queue: the merge work lists of both BPE variants.
struct BinaryHeap<Element: HeapElement> {
    private var items: [Element] = []

    var isEmpty: Bool { items.isEmpty }

    mutating func push(_ element: Element) {
        items.append(element)
        var child = items.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard Element.outranks(items[child], items[parent]) else { break }
            items.swapAt(child, parent)
            child = parent
        }
    }

    mutating func pop() -> Element? {
        guard let last = items.popLast() else { return nil }
        guard !items.isEmpty else { return last }
        let top = items[0]
        items[0] = last
        var parent = 0
        while true {
            let left = 2 * parent + 1
            let right = left + 1
            var best = parent
            if left < items.count, Element.outranks(items[left], items[best]) { best = left }
            if right < items.count, Element.outranks(items[right], items[best]) { best = right }
            if best == parent { break }
            items.swapAt(parent, best)
            parent = best
        }
        return top
    }
}
