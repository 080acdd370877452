import Foundation
import GGUF
import Kernels
import Testing
@testable import ModelRuntime

/// `WeightMatrix.multiply` of several products at once (a layer's Q, K, V; gate and up) gives each
/// product bit for bit what multiplying that matrix alone gives — whatever the mix of weight types
/// (each with its own 8-bit activation layout, or the f32 path), packed or row-major rows, row
/// counts that are not multiples of 16, batch sizes and thread counts.
@Suite struct MatmulGroupTests {
    static let k = 512

    /// Random blocks with sane f16 scales for each type (positive d and dmin for Q4_K).
    static func weights(_ type: GGMLType, rows: Int, seed: UInt64) -> [UInt8] {
        var state = seed
        func next() -> UInt64 { state = state &* 6364136223846793005 &+ 1442695040888963407; return state >> 24 }
        let blocks = rows * k / type.blockElements
        var bytes = (0..<(blocks * type.blockBytes)).map { _ in UInt8(truncatingIfNeeded: next()) }
        func half(_ v: Float, _ o: Int) {
            let b = Float16(v).bitPattern
            bytes[o] = UInt8(b & 0xFF); bytes[o + 1] = UInt8(b >> 8)
        }
        for i in 0..<blocks {
            let o = i * type.blockBytes, s = Float(next() % 1000 + 1) / 40_000
            switch type {
            case .q4_K: half(s, o); half(s / 2, o + 2)
            case .q6_K: half(next() % 2 == 0 ? s : -s, o + 208)
            case .f16: half(Float(Int(next() % 2001) - 1000) / 500, o)
            default: half(next() % 2 == 0 ? s : -s, o)
            }
        }
        return bytes
    }

    @Test func aGroupEqualsItsProductsAlone() throws {
        let shapes: [(String, GGMLType, Int)] = [("q5", .q5_0, 48), ("q4k", .q4_K, 40), ("q8", .q8_0, 32), ("f16", .f16, 20),
                                                 ("q5b", .q5_0, 16)]
        var w = GGUFWriter()
        for (i, s) in shapes.enumerated() {
            w.add(.init(name: s.0, dims: [Self.k, s.2], type: s.1, data: Self.weights(s.1, rows: s.2, seed: UInt64(i + 1))))
        }
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("matmul-group-\(getpid()).gguf").path
        try w.write(to: path)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let file = try GGUFFile(path: path)
        var matrices = try shapes.map { try WeightMatrix(file: file, name: $0.0, cols: Self.k) }
        for i in matrices.indices {   // packed where this machine packs (the decode path)
            let m = matrices[i]
            if PackedWeights.preferred(m.format, k: m.cols) {
                matrices[i].packed = PackedWeights(format: m.format, weights: m.base, rowBytes: m.rowBytes, k: m.cols, rows: m.rows)
            }
        }
        let scratch = Scratch()
        for threads in [1, 3] {
            let pool = ThreadPool(threads: threads)
            for nb in [1, 3, 9] {
                let x = (0..<(nb * Self.k)).map { Float(($0 * 7919) % 2001 - 1000) / 700 }
                var alone: [[Float]] = []
                var grouped: [[Float]] = matrices.map { [Float](repeating: .nan, count: nb * $0.rows) }
                x.withUnsafeBufferPointer { xp in
                    for m in matrices {
                        var y = [Float](repeating: .nan, count: nb * m.rows)
                        y.withUnsafeMutableBufferPointer {
                            m.multiply(xp.baseAddress!, batch: nb, into: $0.baseAddress!, yStride: m.rows, pool: pool, scratch: scratch)
                        }
                        alone.append(y)
                    }
                    let outs = grouped.indices.map { i in
                        UnsafeMutablePointer<Float>.allocate(capacity: nb * matrices[i].rows)
                    }
                    defer { outs.forEach { $0.deallocate() } }
                    let products = matrices.indices.map { MatmulProduct(matrix: matrices[$0], y: outs[$0], yStride: matrices[$0].rows) }
                    WeightMatrix.multiply(products, x: xp.baseAddress!, batch: nb, pool: pool, scratch: scratch)
                    for i in grouped.indices { grouped[i] = Array(UnsafeBufferPointer(start: outs[i], count: nb * matrices[i].rows)) }
                }
                for i in matrices.indices {
                    #expect(grouped[i].map(\.bitPattern) == alone[i].map(\.bitPattern), "\(shapes[i].0) threads \(threads) batch \(nb)")
                    let finite = alone[i].allSatisfy { $0.isFinite }
                    #expect(finite, "\(shapes[i].0)")
                }
            }
        }
    }

    /// Every row of a batched product is bit for bit the one-row (decode) product of that row:
    /// prefill-sized batches run the packed batch kernel (each 16-row group unpacked once) or the
    /// row-major tiles, decode the packed one-row kernel, for every weight type Gemma uses, odd batch
    /// sizes, row counts not a multiple of 16 (no packed form) and 1 to 3 threads.
    @Test func batchRowsEqualOneRowProducts() throws {
        let shapes: [(String, GGMLType, Int)] = [("q5", .q5_0, 48), ("q5odd", .q5_0, 40), ("q4k", .q4_K, 64), ("q6k", .q6_K, 32),
                                                 ("q8", .q8_0, 32), ("q4kodd", .q4_K, 24)]
        var w = GGUFWriter()
        for (i, s) in shapes.enumerated() {
            w.add(.init(name: s.0, dims: [Self.k, s.2], type: s.1, data: Self.weights(s.1, rows: s.2, seed: UInt64(i + 11))))
        }
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("matmul-rows-\(getpid()).gguf").path
        try w.write(to: path)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let file = try GGUFFile(path: path)
        var matrices = try shapes.map { try WeightMatrix(file: file, name: $0.0, cols: Self.k) }
        for i in matrices.indices {
            let m = matrices[i]
            if PackedWeights.preferred(m.format, k: m.cols) {
                matrices[i].packed = PackedWeights(format: m.format, weights: m.base, rowBytes: m.rowBytes, k: m.cols, rows: m.rows)
            }
        }
        let scratch = Scratch()
        for threads in [1, 2, 3] {
            let pool = ThreadPool(threads: threads)
            for nb in [2, 5, 8, 17, 67] {
                let x = (0..<(nb * Self.k)).map { Float(($0 * 7919) % 2001 - 1000) / 700 }
                for (i, m) in matrices.enumerated() {
                    var batched = [Float](repeating: .nan, count: nb * m.rows)
                    var single = [Float](repeating: .nan, count: nb * m.rows)
                    x.withUnsafeBufferPointer { xp in
                        batched.withUnsafeMutableBufferPointer {
                            m.multiply(xp.baseAddress!, batch: nb, into: $0.baseAddress!, yStride: m.rows, pool: pool, scratch: scratch)
                        }
                        single.withUnsafeMutableBufferPointer { yp in
                            for b in 0..<nb {
                                m.multiply(xp.baseAddress! + b * Self.k, batch: 1, into: yp.baseAddress! + b * m.rows, yStride: m.rows,
                                           pool: pool, scratch: scratch)
                            }
                        }
                    }
                    let bad = batched.indices.first { batched[$0].bitPattern != single[$0].bitPattern }
                    #expect(bad == nil, "\(shapes[i].0) threads \(threads) batch \(nb): first mismatch at \(bad.map { "row \($0 / m.rows) col \($0 % m.rows)" } ?? "")")
                    #expect(single.allSatisfy { $0.isFinite }, "\(shapes[i].0)")
                }
            }
        }
    }
}
