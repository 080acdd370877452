import CKernels
import Kernels
import Testing

/// Runs ps_matmul through the Swift wrapper on whole arrays.
func matmul(_ format: WeightFormat, _ w: [UInt8], k: Int, x: [Float], xStride: Int, batch: Int,
            yStride: Int, rows: Range<Int>, into y: inout [Float]) throws {
    let rowBytes = format.rowBytes(k) ?? format.blockBytes
    try w.withUnsafeBytes { wb in
        try x.withUnsafeBufferPointer { xb in
            try y.withUnsafeMutableBufferPointer { yb in
                try QuantizedMatmul.multiply(format: format, weights: wb.baseAddress!, rowBytes: rowBytes, k: k,
                                             x: xb.baseAddress!, xStride: xStride, batch: batch,
                                             y: yb.baseAddress!, yStride: yStride, rows: rows)
            }
        }
    }
}

extension KernelISASuites {
    @Suite struct MatmulAccuracyTests {
        @Test("matmul matches a Double reference from the Swift dequantization", arguments: WeightFormat.allCases)
        func matchesDoubleReference(format: WeightFormat) throws {
            var rng = SplitMix(seed: 0xACC + UInt64(format.rawValue))
            for k in TestData.lengths(format) {
                let rows = 5
                let batch = k > 1000 ? 3 : 9
                let rowBytes = format.rowBytes(k)!
                let w = TestData.weights(format, rows: rows, k: k, rng: &rng)
                let xStride = k + 3
                let x = TestData.activations(count: batch * xStride, rng: &rng)
                // Reference: y[b][r] in Double from the scalar dequantization.
                var reference: [[(sum: Double, magnitude: Double)]] = []
                try w.withUnsafeBytes { wb in
                    for r in 0..<rows {
                        let row = UnsafeRawBufferPointer(rebasing: wb[(r * rowBytes)..<((r + 1) * rowBytes)])
                        let deq = try #require(ScalarReference.dequantize(format, row, count: k))
                        reference.append(x.withUnsafeBufferPointer { xb in
                            (0..<batch).map { b in
                                ScalarReference.referenceDot(deq, UnsafeBufferPointer(rebasing: xb[(b * xStride)..<(b * xStride + k)]))
                            }
                        })
                    }
                }
                try forEachISA { level in
                    let yStride = rows + 2
                    var y = [Float](repeating: .nan, count: batch * yStride)
                    try matmul(format, w, k: k, x: x, xStride: xStride, batch: batch, yStride: yStride,
                               rows: 0..<rows, into: &y)
                    for b in 0..<batch {
                        for r in 0..<rows {
                            let (want, magnitude) = reference[r][b]
                            let got = Double(y[b * yStride + r])
                            let error = abs(got - want)
                            #expect(error <= 1e-5 * magnitude + 1e-30, """
                                \(format) k=\(k) \(level): first bad y[b=\(b)][r=\(r)] = \(got), \
                                reference \(want), |err| \(error), Σ|w·x| \(magnitude)
                                """)
                            if error > 1e-5 * magnitude + 1e-30 { return }
                        }
                        // Padding between output rows stays untouched.
                        #expect(y[b * yStride + rows].isNaN && y[b * yStride + rows + 1].isNaN)
                    }
                }
            }
        }

        @Test("Bad shapes are refused, not trapped on")
        func badShapes() throws {
            let w = [UInt8](repeating: 0, count: 144)
            let x = [Float](repeating: 1, count: 256)
            var y = [Float](repeating: 0, count: 4)
            #expect(throws: KernelsError.rowLengthNotBlockMultiple(format: .q4_K, k: 100)) {
                try matmul(.q4_K, w, k: 100, x: x, xStride: 100, batch: 1, yStride: 1, rows: 0..<1, into: &y)
            }
            #expect(throws: KernelsError.self) {
                try w.withUnsafeBytes { wb in
                    try QuantizedMatmul.multiply(format: .q4_K, weights: wb.baseAddress!, rowBytes: 10, k: 256,
                                                 x: x, xStride: 256, batch: 1, y: &y, yStride: 1, rows: 0..<2)
                }
            }
            // The C entry point ignores an unsupported type instead of crashing.
            y[0] = 7
            ps_matmul(99, w, 144, 256, x, 256, 1, &y, 1, 0, 1)
            #expect(y[0] == 7)
        }
    }
}
