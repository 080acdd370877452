import CKernels
import Kernels
import Testing

extension KernelISASuites {
    @Suite struct DequantizeTests {
        @Test("C dequantization equals the Swift scalar reference bitwise", arguments: WeightFormat.allCases)
        func matchesReference(format: WeightFormat) throws {
            var rng = SplitMix(seed: 0xD0 + UInt64(format.rawValue))
            for k in TestData.lengths(format) {
                let bytes = TestData.weights(format, rows: 1, k: k, rng: &rng)
                let expected = try #require(bytes.withUnsafeBytes { ScalarReference.dequantize(format, $0, count: k) })
                try forEachISA { level in
                    var got = [Float](repeating: .nan, count: k)
                    try bytes.withUnsafeBytes { raw in
                        try got.withUnsafeMutableBufferPointer { out in
                            try QuantizedMatmul.dequantize(format: format, source: raw.baseAddress!, count: k,
                                                           into: out.baseAddress!)
                        }
                    }
                    let bad = firstBitwiseMismatch(got, expected)
                    #expect(bad == nil, """
                        \(format) k=\(k) \(level): first mismatch at \(bad ?? -1): \
                        C \(bad.map { got[$0] } ?? 0) vs reference \(bad.map { expected[$0] } ?? 0)
                        """)
                }
            }
        }

        @Test("Every quant value and scale reaches the output (extreme nibbles and bits)")
        func extremeBytes() throws {
            // All-0xFF and all-0x00 quant bytes hit the ends of every lookup table and bit field.
            for format in WeightFormat.allCases where format.blockElements > 1 {
                for fill: UInt8 in [0x00, 0xFF, 0xA5] {
                    var rng = SplitMix(seed: UInt64(fill))
                    var bytes = TestData.weights(format, rows: 1, k: format.blockElements * 2, rng: &rng)
                    let keep = Set(scaleOffsets(format).flatMap { [$0, $0 + 1] })
                    for i in bytes.indices where !keep.contains(i % format.blockBytes) { bytes[i] = fill }
                    let count = format.blockElements * 2
                    let expected = try #require(bytes.withUnsafeBytes { ScalarReference.dequantize(format, $0, count: count) })
                    forEachISA { level in
                        var got = [Float](repeating: .nan, count: count)
                        bytes.withUnsafeBytes { raw in
                            ps_dequantize_row(format.rawValue, raw.baseAddress, &got, Int64(count))
                        }
                        let bad = firstBitwiseMismatch(got, expected)
                        #expect(bad == nil, "\(format) fill \(fill) \(level): first mismatch at \(bad ?? -1)")
                    }
                }
            }
        }

        private func scaleOffsets(_ format: WeightFormat) -> [Int] {
            switch format {
            case .q4_0, .q5_0, .q8_0: [0]
            case .q4_K, .q5_K: [0, 2]
            case .q6_K: [208]
            default: []
            }
        }
    }
}
