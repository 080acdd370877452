// Unicode scalar ranges → byte-level grammar expressions that accept exactly the UTF-8
// encodings of those scalars: no overlong forms, no surrogates (U+D800–U+DFFF), nothing past
// U+10FFFF. The splitting follows the classic construction (Russ Cox, "Regular Expression
// Matching in the Wild"; Rust regex-syntax's `Utf8Sequences`): split a range at the encoding
// length boundaries, then until every byte position spans a full rectangle of values.

/// Sets of Unicode scalars and their UTF-8 byte expressions.
enum UTF8Ranges {
    /// Sorted, merged, non-overlapping, surrogates removed, clamped to 0...0x10FFFF.
    static func normalize(_ ranges: [ClosedRange<UInt32>]) -> [ClosedRange<UInt32>] {
        var merged: [ClosedRange<UInt32>] = []
        for range in ranges.sorted(by: { $0.lowerBound < $1.lowerBound }) {
            guard range.lowerBound <= 0x10FFFF else { continue }
            let clamped = range.lowerBound...min(range.upperBound, 0x10FFFF)
            if let last = merged.last, clamped.lowerBound <= last.upperBound &+ 1 {
                merged[merged.count - 1] = last.lowerBound...max(last.upperBound, clamped.upperBound)
            } else {
                merged.append(clamped)
            }
        }
        return merged
    }

    /// Every scalar not in `ranges`.
    static func complement(_ ranges: [ClosedRange<UInt32>]) -> [ClosedRange<UInt32>] {
        var result: [ClosedRange<UInt32>] = []
        var next: UInt32 = 0
        for range in normalize(ranges) {
            if range.lowerBound > next { result.append(next...(range.lowerBound - 1)) }
            next = range.upperBound + 1
        }
        if next <= 0x10FFFF { result.append(next...0x10FFFF) }
        return result
    }

    /// An expression matching one scalar from `ranges`, as UTF-8.
    static func expression(_ ranges: [ClosedRange<UInt32>]) -> GrammarExpression {
        var sequences: [[ClosedRange<UInt8>]] = []
        for range in normalize(ranges) {
            split(range.lowerBound, range.upperBound, into: &sequences)
        }
        // One byte set for all single-byte sequences keeps the automaton small.
        var ascii = ByteSet()
        var alternatives: [GrammarExpression] = []
        for sequence in sequences {
            if sequence.count == 1 {
                ascii.insert(sequence[0])
            } else {
                alternatives.append(.sequence(sequence.map { .byteSet(ByteSet($0)) }))
            }
        }
        if !ascii.isEmpty { alternatives.insert(.byteSet(ascii), at: 0) }
        return alternatives.count == 1 ? alternatives[0] : .choice(alternatives)
    }

    /// Any scalar except the listed ASCII bytes (and, as always, surrogates).
    static func anyScalar(exceptASCII excluded: ByteSet) -> GrammarExpression {
        var ranges: [ClosedRange<UInt32>] = []
        var start: UInt32?
        for byte in 0...0x80 as ClosedRange<UInt32> {
            let allowed = byte == 0x80 || !excluded.contains(UInt8(byte))
            if allowed, start == nil { start = byte }
            if !allowed, let s = start {
                ranges.append(s...(byte - 1))
                start = nil
            }
        }
        ranges.append((start ?? 0x80)...0x10FFFF)
        return expression(ranges)
    }

    private static func split(_ lo: UInt32, _ hi: UInt32, into out: inout [[ClosedRange<UInt8>]]) {
        guard lo <= hi else { return }
        if lo <= 0xDFFF && hi >= 0xD800 {
            if lo < 0xD800 { split(lo, 0xD7FF, into: &out) }
            if hi > 0xDFFF { split(0xE000, hi, into: &out) }
            return
        }
        for boundary: UInt32 in [0x7F, 0x7FF, 0xFFFF] where lo <= boundary && hi > boundary {
            split(lo, boundary, into: &out)
            split(boundary + 1, hi, into: &out)
            return
        }
        if hi <= 0x7F {
            out.append([UInt8(lo)...UInt8(hi)])
            return
        }
        let length = encodedLength(lo)
        for i in 1..<length {
            let mask: UInt32 = (1 << (6 * UInt32(i))) - 1
            if lo & ~mask != hi & ~mask {
                if lo & mask != 0 {
                    split(lo, lo | mask, into: &out)
                    split((lo | mask) + 1, hi, into: &out)
                    return
                }
                if hi & mask != mask {
                    split(lo, (hi & ~mask) - 1, into: &out)
                    split(hi & ~mask, hi, into: &out)
                    return
                }
            }
        }
        let a = encode(lo)
        let b = encode(hi)
        out.append(zip(a, b).map { $0...$1 })
    }

    static func encodedLength(_ scalar: UInt32) -> Int {
        scalar < 0x80 ? 1 : scalar < 0x800 ? 2 : scalar < 0x10000 ? 3 : 4
    }

    /// UTF-8 bytes of a scalar value (callers pass valid scalars).
    static func encode(_ scalar: UInt32) -> [UInt8] {
        switch encodedLength(scalar) {
        case 1: return [UInt8(scalar)]
        case 2: return [UInt8(0xC0 | (scalar >> 6)), UInt8(0x80 | (scalar & 0x3F))]
        case 3:
            return [UInt8(0xE0 | (scalar >> 12)), UInt8(0x80 | ((scalar >> 6) & 0x3F)), UInt8(0x80 | (scalar & 0x3F))]
        default:
            return [
                UInt8(0xF0 | (scalar >> 18)), UInt8(0x80 | ((scalar >> 12) & 0x3F)),
                UInt8(0x80 | ((scalar >> 6) & 0x3F)), UInt8(0x80 | (scalar & 0x3F)),
            ]
        }
    }
}
