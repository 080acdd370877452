import Testing

@testable import Constraints

/// The byte-level UTF-8 expressions against Swift's own UTF-8 validation, exhaustively for
/// one- to three-byte sequences and on the boundaries of four-byte ones.
@Suite struct UTF8RangesTests {
    /// A grammar of exactly one scalar from `ranges`.
    func grammar(_ ranges: [ClosedRange<UInt32>]) throws -> CompiledGrammar {
        var definition = GrammarDefinition()
        _ = definition.addRule("root", UTF8Ranges.expression(ranges))
        return try GrammarCompiler(limits: .default).compile(definition)
    }

    /// The scalar `bytes` encode when they are exactly one valid UTF-8 scalar.
    func scalar(_ bytes: [UInt8]) -> UInt32? {
        guard let text = String(validating: bytes, as: UTF8.self), text.unicodeScalars.count == 1 else { return nil }
        return text.unicodeScalars.first?.value
    }

    func check(_ ranges: [ClosedRange<UInt32>], sourceLocation: SourceLocation = #_sourceLocation) throws {
        let grammar = try grammar(ranges)
        let contains = { (value: UInt32) in ranges.contains { $0.contains(value) } }
        var failures = 0
        func test(_ bytes: [UInt8]) {
            let expected = scalar(bytes).map(contains) ?? false
            if accepts(grammar, bytes) != expected {
                failures += 1
                if failures <= 5 { Issue.record("\(bytes.map { String($0, radix: 16) }): expected \(expected)", sourceLocation: sourceLocation) }
            }
        }
        for a in 0...255 {
            test([UInt8(a)])
            for b in 0...255 {
                test([UInt8(a), UInt8(b)])
                // Three-byte sequences: every lead byte with every second byte and a few thirds.
                if a >= 0xE0 && a <= 0xEF {
                    for c in [0x00, 0x7F, 0x80, 0x9F, 0xA0, 0xBF, 0xC0, 0xFF] { test([UInt8(a), UInt8(b), UInt8(c)]) }
                }
            }
        }
        for lead: UInt8 in [0xF0, 0xF1, 0xF3, 0xF4, 0xF5] {
            for second: UInt8 in [0x7F, 0x80, 0x8F, 0x90, 0xBF, 0xC0] {
                for third: UInt8 in [0x80, 0xBF] {
                    for fourth: UInt8 in [0x7F, 0x80, 0xBF, 0xC0] { test([lead, second, third, fourth]) }
                }
            }
        }
    }

    @Test func everyScalar() throws { try check([0...0x10FFFF]) }

    @Test func rangesAcrossEncodingLengthsAndTheSurrogateGap() throws {
        try check([0x41...0x5A, 0x7A...0x800, 0xD000...0xE010, 0xFFF0...0x10010, 0x10FFF0...0x10FFFF])
    }

    @Test func complementOfAClass() throws {
        let ranges = UTF8Ranges.complement([0...0x1F, 0x22...0x22, 0x5C...0x5C, 0x80...0x7FF])
        try check(ranges)
        #expect(UTF8Ranges.complement([0...0x10FFFF]).isEmpty)
        #expect(UTF8Ranges.normalize([5...9, 0...3, 4...4, 20...30, 25...40]) == [0...9, 20...40])
    }
}
