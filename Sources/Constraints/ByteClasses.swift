/// A partition of the 256 byte values into classes that no terminal of a grammar tells apart,
/// so that transition tables have one column per class instead of per byte (JSON grammars need
/// a few dozen).
struct ByteClasses: Sendable {
    /// Class of each byte value.
    let classOf: [UInt8]
    let count: Int
    /// One byte of each class.
    let representative: [UInt8]

    /// The coarsest partition that keeps every set in `sets` a union of classes.
    init(refining sets: some Sequence<ByteSet>) {
        var classes = [Int](repeating: 0, count: 256)
        var count = 1
        for set in Set(sets) {
            var mapping: [Int: Int] = [:]  // (old class * 2 + member) → new class
            var next = 0
            for byte in 0..<256 {
                let key = classes[byte] * 2 + (set.contains(UInt8(byte)) ? 1 : 0)
                if let existing = mapping[key] {
                    classes[byte] = existing
                } else {
                    mapping[key] = next
                    classes[byte] = next
                    next += 1
                }
            }
            count = next
        }
        classOf = classes.map { UInt8($0) }
        self.count = count
        var representative = [UInt8](repeating: 0, count: count)
        for byte in (0..<256).reversed() { representative[classes[byte]] = UInt8(byte) }
        self.representative = representative
    }

    /// The classes whose bytes are all in `set` (a union of classes by construction).
    func classes(in set: ByteSet) -> [Int] {
        (0..<count).filter { set.contains(representative[$0]) }
    }
}
