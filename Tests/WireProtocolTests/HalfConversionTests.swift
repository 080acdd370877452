import Testing
import WireProtocol

/// The wire's f16 conversion is hand-written bit manipulation; check it against Swift's
/// `Float16` (IEEE round-to-nearest-even) exhaustively over halves and their rounding midpoints.
@Suite struct HalfConversionTests {
    func roundTrip(_ values: [Float], _ dtype: WireActivationDType) -> [Float] {
        let m = WireMessage.forwardBatch(WireForwardBatch(batch: BatchID(0), slot: MicroBatchSlot(0), entries: [],
            hiddenStates: WireHiddenStates(dtype: dtype, rows: 1, width: values.count, values: values)))
        guard case let .forwardBatch(b)? = decodeAll(WireCodec.encode(m)).0.first else { return [] }
        return b.hiddenStates?.values ?? []
    }

    @Test func everyHalfDecodesExactly() {
        let payload = le(UInt64(0)) + le(UInt32(0)) + le(UInt32(0)) + le(UInt32(0)) + [1, 1]
            + le(UInt32(1)) + le(UInt32(65536)) + (0 ... 65535).flatMap { le(UInt16($0)) }
        let (msgs, err) = decodeAll(Samples.frame(type: 3, payload: payload))
        #expect(err == nil)
        guard case let .forwardBatch(b)? = msgs.first, let v = b.hiddenStates?.values, v.count == 65536 else {
            Issue.record("no batch"); return
        }
        var mismatches = 0
        for h in 0 ... 65535 {
            let expected = Float(Float16(bitPattern: UInt16(h)))
            let ok = expected.isNaN ? v[h].isNaN && v[h].sign == expected.sign : v[h].bitPattern == expected.bitPattern
            if !ok {
                mismatches += 1
                if mismatches < 5 { Issue.record("half 0x\(String(h, radix: 16)) → \(v[h]), expected \(expected)") }
            }
        }
        #expect(mismatches == 0)
    }

    @Test func encodingRoundsLikeFloat16AtEveryMidpoint() {
        var inputs: [Float] = []
        for h in 0 ... 0x7BFF {  // every finite non-negative half below the maximum, and its midpoint to the next
            let x = Float(Float16(bitPattern: UInt16(h)))
            let next = Float(Float16(bitPattern: UInt16(h + 1)))
            let mid = (x + next) / 2
            for v in [x, mid, mid.nextDown, mid.nextUp] { inputs += [v, -v] }
        }
        inputs += [65504, 65519.99, 65520, 65536, 1e9, .infinity, -.infinity, .nan, -.nan, .leastNonzeroMagnitude,
                   .greatestFiniteMagnitude, Float(bitPattern: 0x7FC0_1234), 5.9604645e-8, 2.9802322e-8, 2.9802326e-8]
        var g = SeededGenerator(seed: 5)
        for _ in 0 ..< 100_000 { inputs.append(Float(bitPattern: UInt32.random(in: 0 ... .max, using: &g))) }
        let out = roundTrip(inputs, .f16)
        #expect(out.count == inputs.count)
        var mismatches = 0
        for (x, y) in zip(inputs, out) {
            let expected = Float(Float16(x))
            let ok = expected.isNaN ? y.isNaN : y.bitPattern == expected.bitPattern
            if !ok {
                mismatches += 1
                if mismatches < 5 { Issue.record("\(x) (0x\(String(x.bitPattern, radix: 16))) → \(y), expected \(expected)") }
            }
        }
        #expect(mismatches == 0)
    }
}
