import Foundation
import Testing

/// The float64 "truth" for the demo model on the llama.cpp fixture's prompts
/// (Fixtures/float64-gemma3-270m.json, made by scripts/make-float64-fixtures from an independent
/// numpy forward with exactly dequantized weights and float64 activations).
struct Float64Fixture: Decodable {
    struct Prompt: Decodable {
        let name: String
        let prompt_tokens: [Int32]
        /// (id, logit) of the 20 highest float64 logits at the last prompt position.
        let top20: [[Double]]
        /// (id, float64 logit) at llama.cpp's top-10 ids, in llama.cpp's order.
        let at_llamacpp_top10: [[Double]]
        /// Top-1 minus top-2 float64 logit at the last prompt position.
        let top1_margin: Double
        /// Greedy continuation, and the top-1 minus top-2 margin when each token was chosen.
        let greedy: [Int32]
        let greedy_margins: [Double]

        var top1: Int32 { Int32(top20[0][0]) }

        /// Length of the greedy prefix that float64 decides clearly: the tokens before the first
        /// step whose top-2 margin is at most `margin` (there an error below margin/2 can flip it).
        func decidedPrefix(margin: Double) -> Int {
            greedy_margins.firstIndex { $0 <= margin } ?? greedy.count
        }
    }
    let model_sha256: String
    let n_continue: Int
    let prompts: [Prompt]
    /// Per prompt of the llama.cpp fixture, along llama.cpp's agreed greedy prefix (fed token by
    /// token): float64's logit of llama.cpp's token minus its best other logit.
    let llamacpp_prefix_margins: [String: [Double]]

    /// Up to this float64 margin a token is a coin toss for an 8-bit implementation: ggml's scheme
    /// perturbed by f32 rounding flips tokens decided by up to a few tenths
    /// (scripts/analysis/q8_noise_band.py), our finer one still errs by up to 0.34 on a pair of
    /// logits (shift-free, wide fixture), and llama.cpp's settings agreeing there only shows that
    /// they share one quantization (on markdown and latex all six agree on tokens float64 rejects).
    /// The same 0.25 as the top-1 bar of `Q8Bars.decidedMargin`.
    static let coinToss = 0.25

    /// Whether a departure from llama.cpp's agreed greedy prefix for `name` at token `index` is
    /// excused: float64 decides that token by at most `coinToss` (or prefers another one).
    func isCoinToss(_ name: String, at index: Int) -> Bool {
        guard let m = llamacpp_prefix_margins[name], index < m.count else { return false }
        return !(m[index] > Self.coinToss)
    }

    static func load(_ name: String = "float64-gemma3-270m.json") throws -> Float64Fixture {
        let url = try #require(fixtureURL(name))
        return try JSONDecoder().decode(Float64Fixture.self, from: Data(contentsOf: url))
    }
}

/// How far one implementation's result for one prompt is from float64, on llama.cpp's top-10 ids
/// (the only ids where llama.cpp's logits are known, so all three are measured on the same ids).
struct ErrorVsFloat64 {
    let name: String
    /// Largest and mean |logit − float64 logit| over the ten ids.
    let maxError: Double
    let meanError: Double
    /// The same after removing the mean difference (a common shift of all logits changes no
    /// probability, so this is the part that can reorder tokens).
    let centeredMaxError: Double
    let top1Matches: Bool
    /// float64's top-1 minus top-2 logit (how much error it takes to change the top-1).
    let top1Margin: Double
    /// Leading greedy tokens equal to float64's (out of `n_continue`).
    let greedyAgreement: Int

    /// `logits(id)` is the implementation's logit for a token id at the last prompt position.
    init(_ p: Float64Fixture.Prompt, top1: Int32, greedy: [Int32], logits: (Int) -> Double) {
        let d = p.at_llamacpp_top10.map { logits(Int($0[0])) - $0[1] }
        let shift = d.reduce(0, +) / Double(d.count)
        name = p.name
        maxError = maxPropagatingNaN(d.map(abs))
        meanError = d.map(abs).reduce(0, +) / Double(d.count)
        centeredMaxError = maxPropagatingNaN(d.map { abs($0 - shift) })
        top1Matches = top1 == p.top1
        top1Margin = p.top1_margin
        greedyAgreement = zip(greedy, p.greedy).prefix { $0 == $1 }.count
    }
}

/// The largest of `xs` (0 when empty), or NaN when any is NaN: `Array.max()` can pass over a NaN,
/// and a bar like `worst <= 1e-3` must not.
func maxPropagatingNaN(_ xs: [Double]) -> Double {
    xs.contains(where: \.isNaN) ? .nan : xs.max() ?? 0
}

/// Aggregates of one implementation over all prompts.
struct ErrorSummary {
    let rows: [ErrorVsFloat64]
    var worst: Double { maxPropagatingNaN(rows.map(\.maxError)) }
    var meanOfMax: Double { rows.map(\.maxError).reduce(0, +) / Double(max(rows.count, 1)) }
    var meanOfMean: Double { rows.map(\.meanError).reduce(0, +) / Double(max(rows.count, 1)) }
    var worstCentered: Double { maxPropagatingNaN(rows.map(\.centeredMaxError)) }
    var worstCenteredPrompt: String { rows.max { $0.centeredMaxError < $1.centeredMaxError }?.name ?? "" }
    var meanOfCentered: Double { rows.map(\.centeredMaxError).reduce(0, +) / Double(max(rows.count, 1)) }
    var top1Matches: Int { rows.filter(\.top1Matches).count }
    var greedyAgreement: Int { rows.map(\.greedyAgreement).reduce(0, +) }

    /// A markdown table, one row per prompt and columns per implementation, plus a summary row.
    static func table(_ columns: [(label: String, summary: ErrorSummary)], fixture: Float64Fixture) -> String {
        func f(_ x: Double) -> String { x < 0.001 && x > 0 ? String(format: "%.0e", x) : String(format: "%.3f", x) }
        var head = "| prompt | f64 margin |"
        var rule = "|---|---|"
        for c in columns {
            head += " \(c.label) max | mean | ctr max | top-1 | greedy |"
            rule += "---|---|---|---|---|"
        }
        var lines = [head, rule]
        for (i, p) in fixture.prompts.enumerated() {
            var line = "| \(p.name) | \(f(p.top1_margin)) |"
            for c in columns {
                let r = c.summary.rows[i]
                line += " \(f(r.maxError)) | \(f(r.meanError)) | \(f(r.centeredMaxError)) | \(r.top1Matches ? "=" : "≠")"
                    + " | \(r.greedyAgreement)/\(fixture.n_continue) |"
            }
            lines.append(line)
        }
        var total = "| **all** (worst; mean) | |"
        for c in columns {
            let s = c.summary
            total += " \(f(s.worst)); \(f(s.meanOfMax)) | \(f(s.meanOfMean)) | \(f(s.worstCentered)); \(f(s.meanOfCentered))"
                + " | \(s.top1Matches)/\(s.rows.count) | \(s.greedyAgreement)/\(s.rows.count * fixture.n_continue) |"
        }
        lines.append(total)
        return lines.joined(separator: "\n")
    }
}
