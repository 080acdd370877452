import Kernels
import ServingTypes
import Testing
@testable import ModelRuntime

@Suite struct SamplerTests {
    let logits: [Float] = [1.0, 3.0, 2.5, -1.0, 3.0, 0.5]

    func params(_ t: Float, k: Int = 0, p: Float = 1, minP: Float = 0, seed: UInt64 = 7) -> SamplingParameters {
        var s = SamplingParameters()
        s.temperature = t; s.topK = k; s.topP = p; s.minP = minP; s.seed = seed
        return s
    }

    @Test func greedyPicksTheFirstMaximum() {
        #expect(Sampler.sample(logits[...], parameters: .greedy, history: [], tokenIndex: 0) == 1)
    }

    /// The vectorised argmax answers as the plain loop does — first maximum, NaNs never chosen
    /// unless first, signed zeros equal — at every ISA level, length and slice offset.
    @Test func argmaxIsThePlainLoopsAnswerAtEveryISALevel() {
        func plain(_ l: ArraySlice<Float>) -> Int32 {
            guard var best = l.indices.first else { return 0 }
            for i in l.indices where l[i] > l[best] { best = i }
            return Int32(best - l.startIndex)
        }
        var state: UInt64 = 99
        func next() -> UInt64 { state = state &* 6364136223846793005 &+ 1442695040888963407; return state >> 33 }
        let specials: [Float] = [.nan, .infinity, -.infinity, 0, -0.0, 3, 3, .greatestFiniteMagnitude]
        var cases: [[Float]] = [[.nan, 1, 2], [-0.0, 0.0], [0.0, -0.0, 0.0], [-.infinity, -.infinity], [1]]
        for n in [16, 17, 32, 48] {   // a NaN in every lane position of the last vector, the maximum before it
            for lane in 0..<16 {
                var v = (0..<n).map { Float($0 % 7) }
                v[n - 16 + lane] = .nan
                cases.append(v)
            }
        }
        for n in [2, 15, 16, 17, 31, 33, 100, 262_144] {
            for _ in 0..<(n > 1000 ? 2 : 12) {
                var v = (0..<n).map { _ in Float(Int(next() % 2001) - 1000) / 100 }
                for _ in 0..<Int(next() % 4) { v[Int(next()) % n] = specials[Int(next()) % specials.count] }
                cases.append(v)
            }
        }
        defer { KernelISA.select(KernelISA.detected) }
        for level in KernelISA.available {
            KernelISA.select(level)
            for v in cases {
                for offset in [0, min(1, v.count - 1)] {
                    let s = v[offset...]
                    #expect(Sampler.argmax(s) == plain(s), "\(level) n \(v.count) offset \(offset)")
                }
            }
        }
        #expect(Sampler.argmax([Float]()[...]) == 0)
    }

    @Test func randomnessIsAPureFunctionOfSeedAndIndex() {
        let p = params(1.0)
        let a = (0..<200).map { Sampler.sample(logits[...], parameters: p, history: [], tokenIndex: $0) }
        let b = (0..<200).map { Sampler.sample(logits[...], parameters: p, history: [], tokenIndex: $0) }
        #expect(a == b)
        let c = (0..<200).map { Sampler.sample(logits[...], parameters: params(1.0, seed: 8), history: [], tokenIndex: $0) }
        #expect(a != c)
        #expect(Set(a).count >= 4)
        // Reversed order of calls gives the same token at each index.
        let rev = (0..<200).reversed().map { Sampler.sample(logits[...], parameters: p, history: [], tokenIndex: $0) }
        #expect(Array(rev.reversed()) == a)
    }

    @Test func frequenciesFollowTheDistribution() {
        let p = params(1.0)
        var counts = [Int](repeating: 0, count: logits.count)
        let n = 20000
        for i in 0..<n { counts[Int(Sampler.sample(logits[...], parameters: p, history: [], tokenIndex: i))] += 1 }
        let z = logits.map { exp(Double($0)) }.reduce(0, +)
        for (i, c) in counts.enumerated() {
            let expected = exp(Double(logits[i])) / z * Double(n)
            #expect(abs(Double(c) - expected) < 5 * expected.squareRoot() + 5, "token \(i): \(c) vs \(expected)")
        }
    }

    @Test func truncationRules() {
        for i in 0..<100 {
            // top-k 2: only the two 3.0 logits (ids 1 and 4).
            #expect([1, 4].contains(Sampler.sample(logits[...], parameters: params(1, k: 2), history: [], tokenIndex: i)))
            // min-p 0.5: tokens within e^-0.69 of the max: 1, 4, 2 (2.5 → 0.61 of max).
            #expect([1, 2, 4].contains(Sampler.sample(logits[...], parameters: params(1, minP: 0.5), history: [], tokenIndex: i)))
            // top-p tiny: only the most likely (id 1; tie with 4 broken by id).
            #expect(Sampler.sample(logits[...], parameters: params(1, p: 0.01), history: [], tokenIndex: i) == 1)
        }
    }

    /// Drawing by partial selection picks the token that ranking every candidate (the sampler's
    /// former sort) picks, for flat and peaked rows, ties, and every truncation.
    @Test func selectionDrawsWhatSortingEverythingDraws() {
        func sorted(_ l: [Float], _ p: SamplingParameters, _ index: Int) -> Int32 {
            var cand = Sampler.samplingWeights(l, temperature: p.temperature).enumerated()
                .map { (id: Int32($0.offset), w: Double($0.element)) }.filter { $0.w > 1e-12 }
            cand.sort { $0.w != $1.w ? $0.w > $1.w : $0.id < $1.id }
            if p.topK > 0, cand.count > p.topK { cand.removeLast(cand.count - p.topK) }
            if p.minP > 0, let top = cand.first?.w, let below = cand.firstIndex(where: { $0.w < top * Double(p.minP) }), below > 0 {
                cand.removeLast(cand.count - below)
            }
            if p.topP < 1 {
                let total = cand.reduce(0) { $0 + $1.w }
                var cum = 0.0
                for (i, c) in cand.enumerated() {
                    cum += c.w
                    if cum >= Double(p.topP) * total { cand.removeLast(cand.count - i - 1); break }
                }
            }
            let u = Sampler.uniform(seed: p.seed, index: index) * cand.reduce(0) { $0 + $1.w }
            var cum = 0.0
            for c in cand {
                cum += c.w
                if u < cum { return c.id }
            }
            return cand.last!.id
        }
        var state: UInt64 = 4242
        func next() -> UInt64 { state = state &* 6364136223846793005 &+ 1442695040888963407; return state >> 33 }
        var drawn = Set<Int32>()
        for trial in 0 ..< 400 {
            let n = [1, 7, 25, 64, 300, 5000][trial % 6]
            let spread = [0.5, 4, 30][Int(next() % 3)]
            let levels = trial % 5 == 0 ? 6 : 100_000   // few levels: many ties
            let row = (0 ..< n).map { _ in Float(Double(Int(next() % UInt64(levels))) / Double(levels) * spread) }
            let p = params([0.3, 1, 2][trial % 3], k: [0, 0, 1, 5, 40][Int(next() % 5)],
                           p: [1, 1, 0.9, 0.5][Int(next() % 4)], minP: [0, 0, 0.05][Int(next() % 3)], seed: next())
            for index in 0 ..< 5 {
                let token = Sampler.sample(row[...], parameters: p, history: [], tokenIndex: index)
                #expect(token == sorted(row, p, index), "trial \(trial) n \(n) index \(index)")
                drawn.insert(token)
            }
        }
        #expect(drawn.count > 300)
    }

    @Test func penaltiesDemoteSeenTokens() {
        var p = SamplingParameters.greedy
        p.repetitionPenalty = 2
        // 1 and 4 tie at 3.0; seeing 1 halves it, so 4 wins.
        #expect(Sampler.sample(logits[...], parameters: p, history: [1], tokenIndex: 0) == 4)
        var q = SamplingParameters.greedy
        q.presencePenalty = 1
        q.frequencyPenalty = 0.5
        // 1 and 4 seen: 3 - 1 - 0.5 = 1.5 and 3 - 1 - 1.0 = 1.0, so 2 (2.5) wins.
        #expect(Sampler.sample(logits[...], parameters: q, history: [1, 4, 4], tokenIndex: 0) == 2)
    }

    @Test func logprobsAreNormalised() {
        let (lp, top) = Sampler.logprobs(logits[...], token: 2, top: 3)
        let z = logits.map { exp(Double($0)) }.reduce(0, +)
        #expect(abs(Double(lp) - (2.5 - log(z))) < 1e-5)
        #expect(top.map(\.0) == [1, 4, 2])
    }
}

import Foundation

/// Sampling under a token filter (structured output): the result is what sampling the logits
/// with every disallowed one set to −∞ gives — greedy through the argmax check or the full mask
/// alike — and nil when nothing is allowed.
@Suite struct FilteredSamplerTests {
    struct Mask: TokenFilter {
        var words: [UInt64]
        func allows(_ token: Int32) -> Bool { Int(token) / 64 < words.count && words[Int(token) / 64] & (1 << UInt64(token % 64)) != 0 }
        func allowedWords() -> [UInt64] { words }
    }

    @Test func aFilteredSampleIsTheSampleOfTheMaskedLogits() {
        var state: UInt64 = 12345
        func next() -> UInt64 { state = state &* 6364136223846793005 &+ 1442695040888963407; return state >> 33 }
        for trial in 0 ..< 300 {
            let n = 1 + Int(next() % 300)
            // Few distinct values, so ties are common.
            let logits = (0 ..< n).map { _ in Float(Int(next() % 9)) - 4 }
            let density = next() % 4  // none, sparse, half, all
            var words = [UInt64](repeating: 0, count: (n + 63) / 64)
            for i in 0 ..< n where density == 3 || (density > 0 && next() % (density == 1 ? 17 : 2) == 0) {
                words[i / 64] |= 1 << UInt64(i % 64)
            }
            let mask = Mask(words: words)
            let masked = logits.enumerated().map { mask.allows(Int32($0.offset)) ? $0.element : -.infinity }
            var p = SamplingParameters(temperature: [0, 0, 0.7, 1.3][trial % 4], seed: UInt64(trial))
            if trial % 3 == 0 { p.topK = 3 }
            if trial % 5 == 0 { p.topP = 0.8 }
            if trial % 7 == 0 { p.minP = 0.1 }
            if trial % 8 < 2 { p.repetitionPenalty = 1.3 }
            let history: [Int32] = [0, 1, 2]
            let got = Sampler.sample(logits[...], parameters: p, history: history, tokenIndex: trial, filter: mask)
            guard masked.contains(where: { $0 > -.infinity }) else {
                #expect(got == nil, "trial \(trial): nothing allowed, got \(String(describing: got))")
                continue
            }
            var reference = masked
            if p.hasPenalties {
                // Penalties act on the raw logits first; the mask then removes what is not allowed.
                var penalised = logits
                Sampler.applyPenalties(&penalised, p, history)
                reference = penalised.enumerated().map { mask.allows(Int32($0.offset)) ? $0.element : -.infinity }
            }
            var plain = p
            plain.repetitionPenalty = 1
            plain.presencePenalty = 0
            plain.frequencyPenalty = 0
            let expected = Sampler.sample(reference[...], parameters: plain, history: [], tokenIndex: trial)
            #expect(got == expected, "trial \(trial) (n \(n), t \(p.temperature)): \(String(describing: got)) vs \(expected)")
            if let got { #expect(mask.allows(got), "trial \(trial)") }
        }
    }
}
