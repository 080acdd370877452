import Kernels
import Testing

extension KernelISASuites {
    @Suite struct MatmulDeterminismTests {
        /// y[b][r] must not depend on the batch size, the row range or b's place in the batch.
        @Test("Results are bitwise independent of batch size, position and row split",
              arguments: WeightFormat.allCases)
        func batchInvariant(format: WeightFormat) throws {
            var rng = SplitMix(seed: 0xDE7 + UInt64(format.rawValue))
            let rows = 9
            let ks = format.blockElements == 1 ? [645, 2061] : format.blockElements == 32 ? [640, 2080] : [2560]
            for k in ks {
                let w = TestData.weights(format, rows: rows, k: k, rng: &rng)
                let batch = 7
                let x = TestData.activations(count: batch * k, rng: &rng)
                try forEachISA { level in
                    // The whole batch over all rows.
                    var full = [Float](repeating: .nan, count: batch * rows)
                    try matmul(format, w, k: k, x: x, xStride: k, batch: batch, yStride: rows, rows: 0..<rows, into: &full)

                    // Each activation row alone (nb = 1), for single rows and the full range.
                    for b in 0..<batch {
                        let xb = Array(x[(b * k)..<((b + 1) * k)])
                        var one = [Float](repeating: .nan, count: rows)
                        try matmul(format, w, k: k, x: xb, xStride: k, batch: 1, yStride: rows, rows: 0..<rows, into: &one)
                        let bad = firstBitwiseMismatch(one, Array(full[(b * rows)..<((b + 1) * rows)]))
                        #expect(bad == nil, "\(format) k=\(k) \(level): nb=1 vs nb=7, b=\(b): first differing row \(bad ?? -1)")
                    }

                    // A small batch (the kernels' register path) of the first three rows.
                    var three = [Float](repeating: .nan, count: 3 * rows)
                    try matmul(format, w, k: k, x: x, xStride: k, batch: 3, yStride: rows, rows: 0..<rows, into: &three)
                    let badThree = firstBitwiseMismatch(three, Array(full[0..<(3 * rows)]))
                    #expect(badThree == nil, "\(format) k=\(k) \(level): nb=3 vs nb=7 differs at \(badThree ?? -1)")

                    // Row splits as a thread pool would make them, including odd starts.
                    var split = [Float](repeating: .nan, count: batch * rows)
                    for range in [0..<1, 1..<4, 4..<5, 5..<9] {
                        try matmul(format, w, k: k, x: x, xStride: k, batch: batch, yStride: rows, rows: range, into: &split)
                    }
                    let badSplit = firstBitwiseMismatch(split, full)
                    #expect(badSplit == nil, "\(format) k=\(k) \(level): row split differs at \(badSplit ?? -1)")

                    // The same rows at other positions of a larger batch (70 > the kernels' 64-row
                    // activation block): reversed, repeated.
                    let big = 70
                    var xBig = [Float](repeating: 0, count: big * k)
                    for p in 0..<big {
                        let b = (batch - 1) - p % batch
                        xBig.replaceSubrange((p * k)..<((p + 1) * k), with: x[(b * k)..<((b + 1) * k)])
                    }
                    var yBig = [Float](repeating: .nan, count: big * rows)
                    try matmul(format, w, k: k, x: xBig, xStride: k, batch: big, yStride: rows, rows: 0..<rows, into: &yBig)
                    for p in 0..<big {
                        let b = (batch - 1) - p % batch
                        let bad = firstBitwiseMismatch(Array(yBig[(p * rows)..<((p + 1) * rows)]),
                                                       Array(full[(b * rows)..<((b + 1) * rows)]))
                        #expect(bad == nil, "\(format) k=\(k) \(level): batch position \(p) (row \(b)) differs at row \(bad ?? -1)")
                        if bad != nil { return }
                    }
                }
            }
        }
    }
}
