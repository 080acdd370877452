// Decimal integers within bounds as a regular expression (as llama.cpp's json-schema-to-grammar
// does for `minimum`/`maximum` of integers): split by sign and digit count, then digit by
// digit — a range of same-length numbers is "common prefix, then first-digit cases".

/// Grammars of JSON integers in a range.
enum IntegerRange {
    /// Integers n with `low <= n <= high` (nil: unbounded on that side), in JSON's spelling
    /// without leading zeros; "-0" is not produced. Magnitudes stay within JSON's digit bound.
    static func expression(low: Int64?, high: Int64?) -> GrammarExpression {
        var alternatives: [GrammarExpression] = []
        // Non-negative part.
        let nonNegativeLow = max(low ?? 0, 0)
        if high.map({ $0 >= nonNegativeLow }) ?? true {
            alternatives.append(unsigned(UInt64(nonNegativeLow), high.map { UInt64($0) }))
        }
        // Negative part: "-" and a magnitude in [max(1, -high), -low].
        if (low ?? -1) < 0, (high ?? -1) >= (low ?? Int64.min) {
            let highMagnitude = low.map { UInt64(-($0 + 1)) + 1 }  // -low without overflow
            let lowMagnitude = UInt64(max(1, high.map { $0 < 0 ? -$0 : 1 } ?? 1))
            if highMagnitude.map({ $0 >= lowMagnitude }) ?? true {
                alternatives.append(.sequence([.byte(0x2D), unsigned(lowMagnitude, highMagnitude)]))
            }
        }
        return alternatives.count == 1 ? alternatives[0] : .choice(alternatives)
    }

    /// Magnitudes in [low, high] (high nil: up to the longest JSON integer we produce).
    static func unsigned(_ low: UInt64, _ high: UInt64?) -> GrammarExpression {
        let maxDigits = JSONGrammar.maxIntegerDigits
        let lowText = Array(String(low).utf8)
        var alternatives: [GrammarExpression] = []
        let highDigits = high.map { String($0).utf8.count } ?? maxDigits
        guard lowText.count <= highDigits else { return .nothing }
        // Lengths strictly between the bounds' lengths: any number of that many digits.
        if highDigits - lowText.count >= 2 || (high == nil && highDigits > lowText.count) {
            let shortest = lowText.count + 1
            let longest = high == nil ? highDigits : highDigits - 1
            alternatives.append(.sequence([.bytes(0x31...0x39), .repetition(JSONGrammar.digit, min: shortest - 1, max: longest - 1)]))
        }
        let lengths = high != nil && highDigits > lowText.count ? [lowText.count, highDigits] : [lowText.count]
        for digits in lengths {
            let from = digits == lowText.count ? lowText : Array(("1" + String(repeating: "0", count: digits - 1)).utf8)
            let to: [UInt8]
            if let high, digits == highDigits {
                to = Array(String(high).utf8)
            } else {
                to = Array(String(repeating: "9", count: digits).utf8)
            }
            if digits == 1 && from == [0x30] && to[0] >= 0x30 {
                alternatives.append(.bytes(0x30...to[0]))
                continue
            }
            alternatives.append(sameLength(from[...], to[...]))
        }
        return alternatives.count == 1 ? alternatives[0] : .choice(alternatives)
    }

    /// Numbers written with exactly as many digits as `from` and `to`, between them.
    private static func sameLength(_ from: ArraySlice<UInt8>, _ to: ArraySlice<UInt8>) -> GrammarExpression {
        guard let first = from.first, let last = to.first else { return .empty }
        // 00…0 to 99…9: any digits (keeps the recursion linear).
        if from.allSatisfy({ $0 == 0x30 }) && to.allSatisfy({ $0 == 0x39 }) {
            return .repetition(JSONGrammar.digit, min: from.count, max: from.count)
        }
        let restFrom = from.dropFirst()
        let restTo = to.dropFirst()
        if first == last { return .sequence([.byte(first), sameLength(restFrom, restTo)]) }
        let anyDigits = GrammarExpression.repetition(JSONGrammar.digit, min: restFrom.count, max: restFrom.count)
        var alternatives: [GrammarExpression] = []
        // first digit of `from`, then anything from the rest of `from` up to 99…
        let allNines = ArraySlice(repeatElement(UInt8(0x39), count: restFrom.count))
        let allZeros = ArraySlice(repeatElement(UInt8(0x30), count: restFrom.count))
        alternatives.append(.sequence([.byte(first), sameLength(restFrom, allNines)]))
        if first + 1 <= last - 1 { alternatives.append(.sequence([.bytes((first + 1)...(last - 1)), anyDigits])) }
        alternatives.append(.sequence([.byte(last), sameLength(allZeros, restTo)]))
        return .choice(alternatives)
    }
}
