import Testing

@testable import Constraints

/// Integer `minimum`/`maximum` (and their exclusive forms): every integer in a window checked.
@Suite struct IntegerRangeTests {
    @Test(arguments: [
        (Int64?(0), Int64?(100)), (1, 9), (7, 7), (-5, 5), (-120, -13), (-1000, nil), (nil, -37), (95, 105), (nil, 0),
        (10, nil), (0, nil), (-9, 0), (123, 4567), (nil, nil),
    ])
    func rangesAcceptExactlyTheirIntegers(low: Int64?, high: Int64?) throws {
        var keywords: [String] = []
        if let low { keywords.append("\"minimum\":\(low)") }
        if let high { keywords.append("\"maximum\":\(high)") }
        let grammar = try schemaGrammar("{\"type\":\"integer\"" + keywords.map { "," + $0 }.joined() + "}")
        var wrong: [Int] = []
        for n in -1200...5000 {
            let expected = (low.map { Int64(n) >= $0 } ?? true) && (high.map { Int64(n) <= $0 } ?? true)
            if accepts(grammar, String(n)) != expected { wrong.append(n) }
        }
        #expect(wrong.isEmpty, "\(low.map(String.init) ?? "-∞")...\(high.map(String.init) ?? "∞"): wrong at \(wrong.prefix(10))")
        if low != nil || high != nil { #expect(!accepts(grammar, "-0")) }
        #expect(!accepts(grammar, "007"))
    }

    @Test func exclusiveAndFractionalBounds() throws {
        let grammar = try schemaGrammar(#"{"type":"integer","exclusiveMinimum":0,"exclusiveMaximum":10.5}"#)
        expectTable(grammar, accept: ["1", "10"], reject: ["0", "11", "-1"])
        let rounded = try schemaGrammar(#"{"type":"integer","minimum":2.5,"maximum":4.9}"#)
        expectTable(rounded, accept: ["3", "4"], reject: ["2", "5"])
        let large = try schemaGrammar(#"{"type":"integer","minimum":999999999999,"maximum":1000000000001}"#)
        expectTable(large, accept: ["999999999999", "1000000000000", "1000000000001"], reject: ["999999999998", "1000000000002"])
    }

    @Test func boundsOnNumbersStayUnsupported() {
        #expect(schemaError(#"{"type":"number","minimum":0}"#)?.path == "minimum")
        #expect(schemaError(#"{"type":["integer","number"],"maximum":3}"#)?.path == "maximum")
        #expect(schemaError(#"{"type":["integer","null"],"maximum":3}"#) == nil)
        #expect(schemaError(#"{"type":"integer","minimum":5,"maximum":4}"#) == .acceptsNothing(path: ""))
        #expect(schemaError(#"{"type":"integer","minimum":"1"}"#)?.path == "minimum")
        guard case .tooLarge? = schemaError(#"{"type":"integer","maximum":1e30}"#) else {
            Issue.record("huge bound accepted")
            return
        }
    }
}
