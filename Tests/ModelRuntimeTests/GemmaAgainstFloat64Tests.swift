import Foundation
import GGUF
import ServingTypes
import Testing
import Kernels
@testable import ModelRuntime

/// The real Gemma 3 270M Q4_K_M: our two activation paths and llama.cpp b11434, each measured
/// against the float64 forward of the same file (Fixtures/float64-gemma3-270m.json), on
/// llama.cpp's top-10 ids at the last prompt position and on float64's greedy continuation.
/// PIPESERVE_PRINT_ACCURACY=1 prints the per-prompt table.
@Suite(.enabled(if: TestModels.realModelPath != nil, "demo model not fetched: run scripts/fetch-model or scripts/test"))
struct GemmaAgainstFloat64Tests {
    typealias LlamaCpp = GemmaAgainstLlamaCppTests.Fixture

    func fixtures() throws -> (float64: Float64Fixture, llamaCpp: LlamaCpp) {
        (try Float64Fixture.load(), try GemmaAgainstLlamaCppTests().fixture())
    }

    /// llama.cpp's error: its canonical setting's logits at its top-10 ids and its greedy tokens.
    func llamaCppErrors(_ f: Float64Fixture, _ l: LlamaCpp) -> ErrorSummary {
        ErrorSummary(rows: zip(f.prompts, l.prompts).map { p, lp in
            let logit = Dictionary(uniqueKeysWithValues: lp.top10.map { (Int($0[0]), $0[1]) })
            return ErrorVsFloat64(p, top1: Int32(lp.top10[0][0]), greedy: lp.greedy) { logit[$0] ?? .nan }
        })
    }

    /// Our error in `mode`.
    func ourErrors(_ f: Float64Fixture, _ mode: ActivationPrecision) throws -> ErrorSummary {
        let saved = ActivationPrecision.current
        ActivationPrecision.select(mode)
        defer { ActivationPrecision.select(saved) }
        let model = try LayerRangeModel(file: try GGUFFile(path: try #require(TestModels.realModelPath)), threads: 2,
                                        logger: testLogger)
        let generator = Generator(model: model)
        return ErrorSummary(rows: try f.prompts.enumerated().map { i, p in
            let r = try generator.generate(prompt: p.prompt_tokens, maxTokens: f.n_continue, sampling: .greedy,
                                           sequence: SequenceID(UInt64(i)))
            return ErrorVsFloat64(p, top1: Sampler.argmax(r.promptLogits), greedy: r.tokens) { Double(r.promptLogits[$0]) }
        })
    }

    func printTable(_ columns: [(label: String, summary: ErrorSummary)], _ f: Float64Fixture) {
        if ProcessInfo.processInfo.environment["PIPESERVE_PRINT_ACCURACY"] != nil {
            print(ErrorSummary.table(columns, fixture: f))
        }
    }

    @Test func fixturesDescribeTheSamePrompts() throws {
        let (f, l) = try fixtures()
        #expect(f.model_sha256 == l.model_sha256)
        #expect(f.prompts.map(\.name) == l.prompts.map(\.name))
        #expect(f.prompts.map(\.prompt_tokens) == l.prompts.map(\.prompt_tokens))
        #expect(f.prompts.allSatisfy { $0.greedy.count == f.n_continue && $0.greedy_margins.count == f.n_continue })
        for (p, lp) in zip(f.prompts, l.prompts) {
            #expect(p.at_llamacpp_top10.map { $0[0] } == lp.top10.map { $0[0] }, "prompt \(p.name)")
        }
    }

    /// The exact path is float64 up to f32 rounding: measured at most 4e-5 from it (the fixture
    /// rounds to 1e-5). So: every top-10 logit within 1e-3, the same top-1 everywhere (the
    /// smallest float64 margin is 0.013), and the same greedy tokens up to the first step whose
    /// float64 margin is within 2e-3 (the most two logits off by 1e-3 can move apart).
    @Test func exactPathIsFloat64UpToRounding() throws {
        let f = try Float64Fixture.load()
        let s = try ourErrors(f, .f32)
        printTable([("f32", s)], f)
        #expect(s.worst <= 1e-3, "top-10 logits differ from float64 by up to \(s.worst)")
        for (r, p) in zip(s.rows, f.prompts) {
            #expect(r.top1Matches, "prompt \(p.name): top-1 differs from float64's")
            #expect(r.greedyAgreement >= p.decidedPrefix(margin: 2e-3), "prompt \(p.name): greedy leaves float64's at \(r.greedyAgreement)")
        }
    }

    /// 8-bit activations (the default) against llama.cpp, which quantizes activations too, more
    /// coarsely (ggml's blocks of 32 and 256 against our groups of 8 and power-of-two sub-blocks of
    /// 32: ps_quant.h) and with f16 K/V. Our error must not exceed llama.cpp's: the mean over the
    /// prompts and the worst prompt, raw and shift-free. The error of any 8-bit scheme is chaotic
    /// (scripts/analysis/q8_noise_band.py: perturbing ggml's scheme by f32 rounding moves its mean
    /// |Δ| over 0.18-0.45), so this holds by a margin of scheme, not of luck: measured 0.163 against
    /// 0.245 mean, 0.929 against 1.246 worst, 0.153 against 0.282 shift-free (error_budget.py:
    /// hidden-state error after the last layer about half of ggml's).
    @Test func quantizedActivationsAreAsAccurateAsLlamaCpp() throws {
        let (f, l) = try fixtures()
        let q8 = try ourErrors(f, .q8)
        let llamaCpp = llamaCppErrors(f, l)
        printTable([("llama.cpp", llamaCpp), ("q8", q8)], f)
        let violations = Q8Bars.violations(q8, llamaCpp: llamaCpp, fixture: f)
        #expect(violations.isEmpty, "\(violations)")
    }

    /// The bars are fair. The relative ones measure from llama.cpp's result, which is fair only
    /// if llama.cpp is an ordinary implementation of the scheme: its two aggregates must lie in
    /// the spread of the noise-band draws (measured from the float64 reference, not from
    /// llama.cpp). And llama.cpp's result, measured against float64, meets the absolute bars.
    @Test func llamaCppMeetsTheQuantizedActivationBars() throws {
        let (f, l) = try fixtures()
        let llamaCpp = llamaCppErrors(f, l)
        #expect(Q8Bars.meanErrorSpread.contains(llamaCpp.meanOfMean), "llama.cpp's mean |Δ| \(llamaCpp.meanOfMean)")
        #expect(Q8Bars.shiftFreeSpread.contains(llamaCpp.meanOfCentered), "llama.cpp's mean shift-free max \(llamaCpp.meanOfCentered)")
        let violations = Q8Bars.absoluteViolations(llamaCpp, fixture: f)
        #expect(violations.isEmpty, "\(violations)")
    }
}

/// What an implementation of 8-bit activations must achieve against float64: llama.cpp's error
/// (`violations`), and absolute bars derived from the distribution of 21 draws of ggml's scheme
/// (scripts/analysis/q8_noise_band.py; in brackets min–max, mean ± sd over the draws) that
/// llama.cpp's result must meet as well.
enum Q8Bars {
    /// Any prompt's shift-free max error [worst per draw 0.30–1.36]: a catastrophe cap.
    static let worstShiftFree = 2.0
    /// Top-1 flips where float64's top-2 margin exceeds 0.25: at most one [0 in 16 draws, 1 in 5
    /// (trailing-space 0.41, json-start 0.71)]. Below 0.25 flips are routine (accented-european
    /// 0.086 flips in 16 of 21 draws, chat-literal-no-special 0.013 in 14): those are the two
    /// prompts where llama.cpp's own settings disagree on the top-1.
    static let decidedMargin = 0.25
    static let maxFlips = 1
    /// Greedy tokens agreeing with float64's continuation (leading tokens per prompt, summed)
    /// [70–97 of 112, 85.7 ± 6.3]: at least 60 % (mean − 3 sd).
    static let greedyFraction = 0.6

    /// The spread over the 21 draws of the two aggregates the relative bars compare: an
    /// implementation of ggml's scheme is expected to land inside (llama.cpp's 0.245 and 0.282 do).
    static let meanErrorSpread = 0.18...0.45
    static let shiftFreeSpread = 0.18...0.32

    /// The bars `s` misses, described; empty when it meets them all: the absolute ones, and
    /// llama.cpp's own mean and worst error, raw and shift-free. Each bar is written as
    /// "not (value <= bar)" so that a NaN misses it.
    static func violations(_ s: ErrorSummary, llamaCpp: ErrorSummary, fixture f: Float64Fixture) -> [String] {
        var out = absoluteViolations(s, fixture: f)
        if !(s.meanOfMean <= llamaCpp.meanOfMean) { out.append("mean |Δ| \(s.meanOfMean) > llama.cpp's \(llamaCpp.meanOfMean)") }
        if !(s.worst <= llamaCpp.worst) { out.append("worst |Δ| \(s.worst) > llama.cpp's \(llamaCpp.worst)") }
        if !(s.meanOfCentered <= llamaCpp.meanOfCentered) {
            out.append("mean shift-free max \(s.meanOfCentered) > llama.cpp's \(llamaCpp.meanOfCentered)")
        }
        if !(s.worstCentered <= llamaCpp.worstCentered) {
            out.append("worst shift-free max \(s.worstCentered) > llama.cpp's \(llamaCpp.worstCentered)")
        }
        return out
    }

    /// The bars that do not depend on llama.cpp's result: finite errors, the catastrophe cap,
    /// decided top-1 flips and greedy agreement.
    static func absoluteViolations(_ s: ErrorSummary, fixture f: Float64Fixture) -> [String] {
        var out: [String] = []
        let nonFinite = s.rows.filter { !($0.meanError.isFinite && $0.maxError.isFinite && $0.centeredMaxError.isFinite) }
        if !nonFinite.isEmpty { out.append("non-finite logit errors on \(nonFinite.map(\.name))") }
        if !(s.worstCentered <= worstShiftFree) {
            out.append("shift-free max \(s.worstCentered) on \(s.worstCenteredPrompt) > \(worstShiftFree)")
        }
        let flips = s.rows.filter { !$0.top1Matches && !($0.top1Margin <= decidedMargin) }.map(\.name)
        if flips.count > maxFlips { out.append("top-1 differs from float64 where its margin > \(decidedMargin): \(flips)") }
        let tokens = s.rows.count * f.n_continue
        if !(Double(s.greedyAgreement) >= greedyFraction * Double(tokens)) {
            out.append("greedy agrees with float64 on \(s.greedyAgreement) of \(tokens) tokens")
        }
        return out
    }
}
