import CKernels
import Foundation
import Kernels
import Testing

extension KernelISASuites {
    /// The gated FFN's activations (ps_gelu_tanh_mul, ps_silu_mul): their exp is a polynomial of
    /// plain IEEE operations, so every ISA level must give the same bits, and the values must be
    /// those of the textbook formulas in double precision.
    @Suite struct ActivationFunctionTests {
        /// Inputs covering the interesting ranges: near 0, the knee, both saturations, far beyond
        /// exp's range (±200), and a length that leaves a scalar remainder after the vector loops.
        static func inputs() -> [Float] {
            var rng = SplitMix(seed: 7)
            var x = (0..<1003).map { _ in Float.random(in: -12...12, using: &rng) }
            x += [0, -0, 1e-30, -1e-30, 1e-6, -1e-6, 0.5, -0.5, 3, -3, 9.5, -9.5, 44, -44, 88, -88, 200, -200]
            return x
        }

        static func run(_ f: (UnsafeMutablePointer<Float>, UnsafePointer<Float>, Int64) -> Void, _ x: [Float], _ u: [Float]) -> [Float] {
            var g = x
            g.withUnsafeMutableBufferPointer { gp in u.withUnsafeBufferPointer { f(gp.baseAddress!, $0.baseAddress!, Int64(x.count)) } }
            return g
        }

        static func exact(_ name: String, _ x: Double) -> Double {
            if name == "gelu" {
                // x (1 + tanh y) / 2 written as x / (1 + exp(-2y)): the same function, without
                // the cancellation of 1 + tanh(y) in double below y ≈ -19.
                let y: Double = 0.7978845608028654 * (x + 0.044715 * x * x * x)
                return x / (1.0 + Foundation.exp(-2 * y))
            }
            return x / (1.0 + Foundation.exp(-x))
        }

        @Test("GELU-tanh and SiLU: same bits at every ISA level, accurate to float rounding of exp's argument",
              arguments: ["gelu", "silu"])
        func sameBitsAndAccurate(_ name: String) throws {
            let x = Self.inputs()
            var rng = SplitMix(seed: 8)
            let u = x.map { _ in Float.random(in: 0.5...2, using: &rng) }
            typealias Kernel = (UnsafeMutablePointer<Float>, UnsafePointer<Float>, Int64) -> Void
            let gelu: Kernel = { g, u, n in ps_gelu_tanh_mul(g, u, n) }
            let silu: Kernel = { g, u, n in ps_silu_mul(g, u, n) }
            let f = name == "gelu" ? gelu : silu
            var first: [Float]?
            try forEachISA { level in
                let y = Self.run(f, x, u)
                if let first {
                    #expect(y.map(\.bitPattern) == first.map(\.bitPattern), "\(name) at \(level) differs from the first level")
                } else {
                    first = y
                }
                var worst = 0.0, at = 0
                for i in x.indices {
                    let e = Self.exact(name, Double(x[i])) * Double(u[i])
                    try #require(y[i].isFinite, "\(name)(\(x[i])) = \(y[i])")
                    // Relative error (absolute below 1e-28, where exp is clamped at ±88), against a
                    // bar that grows with exp's argument a: float rounding of a itself (≈ 1e-7 |a|)
                    // is amplified by exp, whatever exp's own accuracy.
                    let a = abs(name == "gelu" ? 2 * 0.7978845608028654 * Double(x[i]) * (1 + 0.044715 * Double(x[i] * x[i])) : Double(x[i]))
                    let err = abs(Double(y[i]) - e) / max(abs(e), 1e-28) / (2e-6 + 2e-7 * min(a, 88))
                    if err > worst { worst = err; at = i }
                }
                #expect(worst <= 1, "\(name): worst error / bar \(worst) at x = \(x[at]) (\(y[at]) vs \(Self.exact(name, Double(x[at])) * Double(u[at]))), \(level)")
            }
        }

        /// The sampler's weights (ps_sampling_weights): the same bits at every ISA level, and
        /// exp((x − max) / T) to float rounding of the argument; clamped arguments give weights far
        /// below the sampler's 1e-12 cut.
        @Test func samplingWeightsAreTheSameBitsAndAccurate() throws {
            let x = Self.inputs()
            let top: Float = 12   // the sampler subtracts the maximum: arguments are at most 0
            var first: [UInt32]?
            for invT: Float in [1, 1 / 0.7, 4, 0.25] {
                try forEachISA { level in
                    var w = [Float](repeating: .nan, count: x.count)
                    x.withUnsafeBufferPointer { xp in w.withUnsafeMutableBufferPointer { ps_sampling_weights(xp.baseAddress!, Int64(x.count), top, invT, $0.baseAddress!) } }
                    if invT == 1 {
                        if let first { #expect(w.map(\.bitPattern) == first, "\(level) differs from the first level") } else { first = w.map(\.bitPattern) }
                    }
                    for i in x.indices where x[i] <= top {
                        let a = Double((x[i] - top) * invT)
                        if a < -87 { #expect(w[i] < 1e-30, "x \(x[i])"); continue }
                        let e = Foundation.exp(a)
                        #expect(abs(Double(w[i]) - e) <= e * (2e-6 + 2e-7 * abs(a)), "x \(x[i]) invT \(invT): \(w[i]) vs \(e), \(level)")
                    }
                }
            }
        }
    }
}
