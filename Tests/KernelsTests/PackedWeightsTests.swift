import CKernels
import Kernels
import Testing

extension KernelISASuites {
    /// Packed Q5_0/Q8_0/Q4_K/Q6_K weights (the decode layout) give bitwise the results of the GGUF rows,
    /// at every ISA level, batch size and 16-row range, and unpack to the same bytes.
    @Suite struct PackedWeightsTests {
        static let formats: [WeightFormat] = [.q5_0, .q8_0, .q4_K, .q6_K]

        /// One block, an odd block count, Gemma's widths (640 for the 32-blocks; 1024 and 2048 feed
        /// its Q4_K attention output and its Q4_K and Q6_K FFN down matrices).
        static func widths(_ format: WeightFormat) -> [Int] { format == .q4_K || format == .q6_K ? [256, 768, 2048] : [32, 96, 640] }
        /// Also rows too long for the batch kernel's unpacked group on the stack (64 KiB: 113
        /// Q5_0 blocks, 12 K-type super-blocks), which fall back to unpacking per activation row.
        static func productWidths(_ format: WeightFormat) -> [Int] {
            widths(format) + (format == .q4_K || format == .q6_K ? [3328] : [4096])
        }

        @Test("Packing round-trips to the GGUF bytes", arguments: formats)
        func roundTrip(format: WeightFormat) throws {
            var rng = SplitMix(seed: 41)
            for k in Self.widths(format) {
                let w = TestData.weights(format, rows: 32, k: k, rng: &rng)
                let rb = format.rowBytes(k)!
                let packed = try #require(w.withUnsafeBytes {
                    PackedWeights(format: format, weights: $0.baseAddress!, rowBytes: rb, k: k, rows: 32)
                })
                #expect(packed.byteCount == 32 * (format == .q4_K ? rb + 4 * k / 256 : rb))
                for r in 0..<32 { #expect(packed.unpackRow(r) == Array(w[(r * rb)..<((r + 1) * rb)]), "k \(k) row \(r)") }
            }
        }

        @Test("Packed products equal the GGUF rows' bit for bit", arguments: formats)
        func bitwiseEqual(format: WeightFormat) throws {
            var rng = SplitMix(seed: 7)
            for k in Self.productWidths(format) {
                let rows = 48
                let w = TestData.weights(format, rows: rows, k: k, rng: &rng)
                let rb = format.rowBytes(k)!
                let packed = try #require(w.withUnsafeBytes {
                    PackedWeights(format: format, weights: $0.baseAddress!, rowBytes: rb, k: k, rows: rows)
                })
                // Decode (1), small micro-batches, and prefill-sized odd batches that the batch
                // kernel (one unpacked group, every activation row over it) computes.
                for batch in [1, 2, 5, 17, 67] {
                    let x = TestData.activations(count: batch * k, rng: &rng)
                    let xq = try quantize(format, x, xStride: k, batch: batch, k: k)
                    var expected = [Float](repeating: .nan, count: batch * rows)
                    KernelISA.select(.portable)
                    try matmulQ8(format, w, k: k, xq: xq, batch: batch, yStride: rows, rows: 0..<rows, into: &expected)
                    try forEachISA { level in
                        for range in [0..<rows, 16..<32, 0..<16, 32..<48] {
                            var y = [Float](repeating: .nan, count: batch * rows)
                            try xq.withUnsafeBytes { xb in
                                try y.withUnsafeMutableBufferPointer { yb in
                                    try packed.multiplyQuantized(xq: xb.baseAddress!, batch: batch, y: yb.baseAddress!,
                                                                 yStride: rows, rows: range)
                                }
                            }
                            for b in 0..<batch {
                                let got = Array(y[(b * rows + range.lowerBound)..<(b * rows + range.upperBound)])
                                let want = Array(expected[(b * rows + range.lowerBound)..<(b * rows + range.upperBound)])
                                let mismatch = firstBitwiseMismatch(got, want)
                                #expect(mismatch == nil, "\(format) k \(k) batch \(batch) rows \(range) \(level) row \(b)")
                            }
                            // Rows outside the range are left alone.
                            #expect(y[0..<range.lowerBound].allSatisfy { $0.isNaN })
                        }
                    }
                }
            }
        }

        @Test("Packing is chosen per format and row length")
        func preference() {
            // Q8_0 rows of 2048 and more stay row-major (the two kernels tie there; a packed copy
            // would double a Q8_0 model's memory); shorter ones go with Q5_0 (same conditions).
            #expect(!PackedWeights.preferred(.q8_0, k: 2048) && !PackedWeights.preferred(.q8_0, k: 4096))
            #expect(PackedWeights.preferred(.q8_0, k: 640) == PackedWeights.preferred(.q5_0, k: 640))
            #expect(PackedWeights.preferred(.q8_0, k: 1024) == PackedWeights.preferred(.q5_0, k: 2048))
            #expect(PackedWeights.preferred(.q4_K, k: 2048) == PackedWeights.preferred(.q5_0, k: 2048))
            #expect(PackedWeights.preferred(.q6_K, k: 2048) == PackedWeights.preferred(.q5_0, k: 2048))
            #expect(!PackedWeights.preferred(.q5_K, k: 2048) && !PackedWeights.preferred(.f16, k: 640))
        }

        @Test("Shapes without a packed form are refused")
        func refused() throws {
            var rng = SplitMix(seed: 3)
            let w = TestData.weights(.q8_0, rows: 20, k: 64, rng: &rng)
            let rb = WeightFormat.q8_0.rowBytes(64)!
            w.withUnsafeBytes { p in
                #expect(PackedWeights(format: .q8_0, weights: p.baseAddress!, rowBytes: rb, k: 64, rows: 20) == nil)
                #expect(PackedWeights(format: .q6_K, weights: p.baseAddress!, rowBytes: rb, k: 256, rows: 16) == nil)
                #expect(PackedWeights(format: .q4_K, weights: p.baseAddress!, rowBytes: rb, k: 64, rows: 16) == nil)
                #expect(PackedWeights(format: .q8_0, weights: p.baseAddress!, rowBytes: rb - 1, k: 64, rows: 16) == nil)
            }
            let packed = try #require(w.withUnsafeBytes {
                PackedWeights(format: .q8_0, weights: $0.baseAddress!, rowBytes: rb, k: 64, rows: 16)
            })
            var y = [Float](repeating: 0, count: 16)
            let xq = [UInt8](repeating: 0, count: WeightFormat.q8_0.quantizedActivationRowBytes(64)!)
            #expect(throws: KernelsError.self) {
                try xq.withUnsafeBytes { xb in
                    try y.withUnsafeMutableBufferPointer {
                        try packed.multiplyQuantized(xq: xb.baseAddress!, batch: 1, y: $0.baseAddress!, yStride: 16, rows: 0..<8)
                    }
                }
            }
        }
    }
}
