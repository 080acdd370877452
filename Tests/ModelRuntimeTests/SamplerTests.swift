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
