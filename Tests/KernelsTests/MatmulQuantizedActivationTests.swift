import Kernels
import Testing

/// The formats with an integer (8-bit activation) path.
let integerFormats: [WeightFormat] = WeightFormat.allCases.filter { $0.quantizedActivationRowBytes($0.blockElements) != nil }

/// Runs the integer path through the Swift wrapper on whole arrays.
func matmulQ8(_ format: WeightFormat, _ w: [UInt8], k: Int, xq: [UInt8], batch: Int, yStride: Int,
              rows: Range<Int>, into y: inout [Float]) throws {
    let rowBytes = format.rowBytes(k)!
    try w.withUnsafeBytes { wb in
        try xq.withUnsafeBytes { xb in
            try y.withUnsafeMutableBufferPointer { yb in
                try QuantizedMatmul.multiplyQuantized(format: format, weights: wb.baseAddress!, rowBytes: rowBytes, k: k,
                                                      xq: xb.baseAddress!, batch: batch, y: yb.baseAddress!,
                                                      yStride: yStride, rows: rows)
            }
        }
    }
}

func quantize(_ format: WeightFormat, _ x: [Float], xStride: Int, batch: Int, k: Int) throws -> [UInt8] {
    let rowBytes = try #require(format.quantizedActivationRowBytes(k))
    var out = [UInt8](repeating: 0, count: batch * rowBytes)
    try x.withUnsafeBufferPointer { xb in
        try out.withUnsafeMutableBytes { ob in
            try QuantizedMatmul.quantizeActivations(format: format, x: xb.baseAddress!, xStride: xStride, batch: batch,
                                                    k: k, into: ob.baseAddress!)
        }
    }
    return out
}

/// Activation quantization written independently in Swift. Blocks of 32 (Q*_0): per group of 8
/// elements d = amax / 127, q = round-half-even(x / d) (ggml's Q8_0 values with groups of 8). Blocks of 256 (K types): d = amax / 127, and
/// each sub-block of 32 the finest scale d / 2^e (e <= 6) with its own amax · 2^e <= amax; stored
/// d / 2^6 and the shifts 6 - e. `scale[i]` is what element i's q stands for.
func referenceQuantize(_ x: ArraySlice<Float>, block: Int) -> (q: [Int8], d: [Float], shifts: [UInt8], scale: [Double]) {
    var q: [Int8] = [], d: [Float] = [], shifts: [UInt8] = [], scale: [Double] = []
    let xs = Array(x)
    for start in stride(from: 0, to: xs.count, by: block) {
        let b = xs[start..<(start + block)]
        let amax = b.map { abs($0) }.max()!
        let blockScale = amax / 127
        let inverse: Float = blockScale != 0 ? 1 / blockScale : 0
        if block == 32 {   // a scale per group of 8
            for g in stride(from: start, to: start + 32, by: 8) {
                let gAmax = xs[g..<(g + 8)].map { abs($0) }.max()!
                let gScale = gAmax / 127
                let gInverse: Float = gScale != 0 ? 1 / gScale : 0
                d.append(gScale)
                q += xs[g..<(g + 8)].map { Int8(max(-127, min(127, ($0 * gInverse).rounded(.toNearestOrEven)))) }
                scale += Array(repeating: Double(gScale), count: 8)
            }
            continue
        }
        d.append(blockScale / 64)
        for s in stride(from: start, to: start + block, by: 32) {
            let subAmax = xs[s..<(s + 32)].map { abs($0) }.max()!
            var e = 0
            while e < 6 && subAmax * Float(1 << (e + 1)) <= amax { e += 1 }
            shifts.append(UInt8(6 - e))
            let ie = inverse * Float(1 << e)
            q += xs[s..<(s + 32)].map { Int8(max(-127, min(127, ($0 * ie).rounded(.toNearestOrEven)))) }
            scale += Array(repeating: Double(blockScale) / Double(1 << e), count: 32)
        }
    }
    return (q, d, shifts, scale)
}

extension KernelISASuites {
    @Suite struct MatmulQuantizedActivationTests {
        @Test("The integer formats are exactly Q4_0, Q5_0, Q8_0, Q4_K, Q5_K, Q6_K")
        func integerFormatList() {
            #expect(integerFormats == [.q4_0, .q5_0, .q8_0, .q4_K, .q5_K, .q6_K])
        }

        /// The quantized activations are ggml's (q, d) and the same bytes at every ISA level, and
        /// the integer matmul equals a Double evaluation of Σ w·(d·q) with them, at every level.
        @Test("Integer path matches a scalar reference of the same quantized math", arguments: integerFormats)
        func matchesScalarReference(format: WeightFormat) throws {
            var rng = SplitMix(seed: 0x18 + UInt64(format.rawValue))
            let ks = format.blockElements == 32 ? [32, 96, 672, 4160] : [256, 768, 4352]
            for k in ks {
                let rows = 6, batch = 5, xStride = k + 3
                let rowBytes = format.rowBytes(k)!
                let w = TestData.weights(format, rows: rows, k: k, rng: &rng)
                var x = TestData.activations(count: batch * xStride, rng: &rng)
                for i in stride(from: 7, to: x.count, by: 61) { x[i] *= 12 }   // outliers set the block scales
                let xq = try quantize(format, x, xStride: xStride, batch: batch, k: k)
                let qRow = format.quantizedActivationRowBytes(k)!
                let dOffset = format.blockElements == 32 ? 2 * k : k
                var dequantizedX: [[Double]] = []
                for b in 0..<batch {
                    let (q, d, shifts, scale) = referenceQuantize(x[(b * xStride)..<(b * xStride + k)], block: format.blockElements)
                    let gotQ = xq[(b * qRow)..<(b * qRow + k)].map { Int8(bitPattern: $0) }
                    #expect(gotQ == q, "\(format) k=\(k) b=\(b): quantized activations differ")
                    let gotD: [Float] = (0..<d.count).map { i in
                        let o = b * qRow + dOffset + 4 * i
                        return Float(bitPattern: UInt32(xq[o]) | UInt32(xq[o + 1]) << 8 | UInt32(xq[o + 2]) << 16 | UInt32(xq[o + 3]) << 24)
                    }
                    #expect(gotD == d, "\(format) k=\(k) b=\(b): activation scales differ")
                    if format.blockElements == 256 {
                        let o = b * qRow + k + k / 256 * 4 + k / 16 * 2
                        #expect(Array(xq[o..<(o + k / 32)]) == shifts, "\(format) k=\(k) b=\(b): sub-block shifts differ")
                    }
                    dequantizedX.append((0..<k).map { Double(q[$0]) * scale[$0] })
                }
                var reference: [[(sum: Double, magnitude: Double)]] = []
                try w.withUnsafeBytes { wb in
                    for r in 0..<rows {
                        let row = UnsafeRawBufferPointer(rebasing: wb[(r * rowBytes)..<((r + 1) * rowBytes)])
                        let deq = try #require(ScalarReference.dequantize(format, row, count: k))
                        reference.append(dequantizedX.map { xd in
                            var s = 0.0, m = 0.0
                            for i in 0..<k { s += Double(deq[i]) * xd[i]; m += abs(Double(deq[i]) * xd[i]) }
                            return (s, m)
                        })
                    }
                }
                var first: [Float]?
                try forEachISA { level in
                    let xqHere = try quantize(format, x, xStride: xStride, batch: batch, k: k)
                    #expect(xqHere == xq, "\(format) k=\(k) \(level): quantized activations differ from the first level's")
                    var y = [Float](repeating: .nan, count: batch * rows)
                    try matmulQ8(format, w, k: k, xq: xq, batch: batch, yStride: rows, rows: 0..<rows, into: &y)
                    for b in 0..<batch {
                        for r in 0..<rows {
                            let (want, magnitude) = reference[r][b]
                            let got = Double(y[b * rows + r])
                            #expect(abs(got - want) <= 1e-5 * magnitude + 1e-30, """
                                \(format) k=\(k) \(level): first bad y[b=\(b)][r=\(r)] = \(got), reference \(want), \
                                Σ|w·x| \(magnitude)
                                """)
                            if !(abs(got - want) <= 1e-5 * magnitude + 1e-30) { return }
                        }
                    }
                    // Integer sums are exact and the float steps fixed: every level gives the same bits.
                    if let first {
                        let bad = firstBitwiseMismatch(y, first)
                        #expect(bad == nil, "\(format) k=\(k) \(level) differs from the portable path at \(bad ?? -1)")
                    } else {
                        first = y
                    }
                }
            }
        }

        /// 8-bit activations cost about 1 % of a dot product's size against the exact f32 path.
        @Test("Integer path stays within quantization error of the f32 path", arguments: integerFormats)
        func closeToF32Path(format: WeightFormat) throws {
            var rng = SplitMix(seed: 0xF32 + UInt64(format.rawValue))
            let k = format.blockElements == 32 ? 640 : 2048
            let rows = 16, batch = 4
            let w = TestData.weights(format, rows: rows, k: k, rng: &rng)
            let x = TestData.activations(count: batch * k, rng: &rng)
            var exact = [Float](repeating: .nan, count: batch * rows)
            try matmul(format, w, k: k, x: x, xStride: k, batch: batch, yStride: rows, rows: 0..<rows, into: &exact)
            var q8 = [Float](repeating: .nan, count: batch * rows)
            let rowBytes = format.rowBytes(k)!
            try w.withUnsafeBytes { wb in
                try x.withUnsafeBufferPointer { xb in
                    try q8.withUnsafeMutableBufferPointer { yb in
                        try QuantizedMatmul.multiply(format: format, weights: wb.baseAddress!, rowBytes: rowBytes, k: k,
                                                     x: xb.baseAddress!, xStride: k, batch: batch, y: yb.baseAddress!,
                                                     yStride: rows, rows: 0..<rows, activations: .q8)
                    }
                }
            }
            var errorSquares = 0.0, valueSquares = 0.0
            for i in exact.indices {
                errorSquares += Double(q8[i] - exact[i]) * Double(q8[i] - exact[i])
                valueSquares += Double(exact[i]) * Double(exact[i])
            }
            let relative = (errorSquares / valueSquares).squareRoot()
            #expect(relative < 0.03, "\(format): RMS error of the 8-bit path relative to the f32 one is \(relative)")
            #expect(relative > 0, "\(format): the 8-bit path returned exactly the f32 results; was it run?")
        }

        /// Same bits whatever the batch, the row split and the position in the batch.
        @Test("Integer path results are bitwise independent of batch, position and row split", arguments: integerFormats)
        func batchInvariant(format: WeightFormat) throws {
            var rng = SplitMix(seed: 0xB17 + UInt64(format.rawValue))
            let rows = 9, batch = 7
            let k = format.blockElements == 32 ? 2080 : 2560
            let w = TestData.weights(format, rows: rows, k: k, rng: &rng)
            let x = TestData.activations(count: batch * k, rng: &rng)
            let xq = try quantize(format, x, xStride: k, batch: batch, k: k)
            let qRow = format.quantizedActivationRowBytes(k)!
            try forEachISA { level in
                var full = [Float](repeating: .nan, count: batch * rows)
                try matmulQ8(format, w, k: k, xq: xq, batch: batch, yStride: rows, rows: 0..<rows, into: &full)
                for b in 0..<batch {
                    var one = [Float](repeating: .nan, count: rows)
                    try matmulQ8(format, w, k: k, xq: Array(xq[(b * qRow)..<((b + 1) * qRow)]), batch: 1, yStride: rows,
                                 rows: 0..<rows, into: &one)
                    let bad = firstBitwiseMismatch(one, Array(full[(b * rows)..<((b + 1) * rows)]))
                    #expect(bad == nil, "\(format) \(level): nb=1 vs nb=7, b=\(b): first differing row \(bad ?? -1)")
                }
                var split = [Float](repeating: .nan, count: batch * rows)
                for range in [0..<1, 1..<4, 4..<5, 5..<9] {
                    try matmulQ8(format, w, k: k, xq: xq, batch: batch, yStride: rows, rows: range, into: &split)
                }
                let badSplit = firstBitwiseMismatch(split, full)
                #expect(badSplit == nil, "\(format) \(level): row split differs at \(badSplit ?? -1)")
                // 70 rows (> the kernels' 64-row activation block), reversed and repeated.
                let big = 70
                var xqBig = [UInt8](repeating: 0, count: big * qRow)
                for p in 0..<big {
                    let b = (batch - 1) - p % batch
                    xqBig.replaceSubrange((p * qRow)..<((p + 1) * qRow), with: xq[(b * qRow)..<((b + 1) * qRow)])
                }
                var yBig = [Float](repeating: .nan, count: big * rows)
                try matmulQ8(format, w, k: k, xq: xqBig, batch: big, yStride: rows, rows: 0..<rows, into: &yBig)
                for p in 0..<big {
                    let b = (batch - 1) - p % batch
                    let bad = firstBitwiseMismatch(Array(yBig[(p * rows)..<((p + 1) * rows)]),
                                                   Array(full[(b * rows)..<((b + 1) * rows)]))
                    #expect(bad == nil, "\(format) \(level): position \(p) of 70 differs at row \(bad ?? -1)")
                    if bad != nil { return }
                }
            }
        }

        @Test("Formats without an integer path are refused by the quantized entry points")
        func floatFormatsRefused() {
            for format in [WeightFormat.f32, .f16, .bf16] {
                #expect(format.quantizedActivationRowBytes(64) == nil)
            }
            #expect(WeightFormat.q4_K.quantizedActivationRowBytes(640) == nil)   // not a multiple of 256
        }
    }
}
