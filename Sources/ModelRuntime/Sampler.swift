import Kernels
import ServingTypes

/// Chooses tokens from logits. Pure: the result depends only on the logits, the parameters, the
/// penalty history and the token's index in its sequence — so a generation is reproduced exactly
/// after a crash, with a different stage count or in a different micro-batch.
public enum Sampler {
    /// Samples one token.
    /// - Parameters:
    ///   - logits: one row of raw logits.
    ///   - history: earlier tokens of the sequence (prompt and generated), most recent last.
    ///   - tokenIndex: index of the token being generated within the request (0 for the first).
    public static func sample(_ logits: ArraySlice<Float>, parameters p: SamplingParameters, history: [Int32], tokenIndex: Int) -> Int32 {
        // Greedy without penalties needs no copy of the (vocabulary-sized) row.
        if p.temperature <= 0 && !p.hasPenalties { return argmax(logits) }
        var l = Array(logits)
        if p.hasPenalties { applyPenalties(&l, p, history) }
        guard p.temperature > 0 else { return argmax(l) }
        return draw(l, p, tokenIndex: tokenIndex)
    }

    /// Samples one token among those `filter` allows (structured output), or nil when it allows
    /// none. The mask applies before top-k, top-p and min-p, exactly as if the disallowed logits
    /// were −∞, so the result is still a function of the logits, the parameters, the history and
    /// `tokenIndex`. Greedy decoding first checks the plain argmax with `filter.allows` and asks
    /// for the whole mask only when that token is refused (llama.cpp's grammar sampler does the
    /// same): the masked argmax is that token whenever it is allowed, so both paths agree.
    public static func sample(_ logits: ArraySlice<Float>, parameters p: SamplingParameters, history: [Int32], tokenIndex: Int,
                              filter: some TokenFilter) -> Int32? {
        if p.temperature <= 0 && !p.hasPenalties {
            let best = argmax(logits)
            if filter.allows(best) { return best }
            return maskedArgmax(logits, filter.allowedWords())
        }
        var l = Array(logits)
        if p.hasPenalties { applyPenalties(&l, p, history) }
        if p.temperature <= 0 {
            let best = argmax(l)
            if filter.allows(best) { return best }
            return maskedArgmax(l[...], filter.allowedWords())
        }
        let words = filter.allowedWords()
        guard applyMask(&l, words) else { return nil }
        let token = draw(l, p, tokenIndex: tokenIndex)
        // Only when every allowed logit is −∞ or NaN can the draw fall outside the mask.
        return filter.allows(token) ? token : maskedArgmax(l[...], words)
    }

    /// The allowed id with the largest logit (lowest id on ties); nil when none is allowed.
    /// `words` is a bit set (bit i of word i / 64 allows token i); ids past the row are ignored.
    static func maskedArgmax(_ logits: ArraySlice<Float>, _ words: [UInt64]) -> Int32? {
        var best: Int32?
        var bestValue = -Float.infinity
        let base = logits.startIndex
        for (w, word) in words.enumerated() where word != 0 {
            var bits = word
            while bits != 0 {
                let id = w * 64 + bits.trailingZeroBitCount
                bits &= bits - 1
                guard id < logits.count else { return best }
                let x = logits[base + id]
                if best == nil || x > bestValue { best = Int32(id); bestValue = x }
            }
        }
        return best
    }

    /// Sets every disallowed logit to −∞; false when no token is allowed.
    static func applyMask(_ l: inout [Float], _ words: [UInt64]) -> Bool {
        var any = false
        l.withUnsafeMutableBufferPointer { row in
            for w in 0 ..< (row.count + 63) / 64 {
                let word = w < words.count ? words[w] : 0
                if word == .max { any = true; continue }
                let end = min(row.count, w * 64 + 64)
                if word == 0 {
                    for i in (w * 64) ..< end { row[i] = -.infinity }
                    continue
                }
                for i in (w * 64) ..< end where word & (1 << UInt64(i - w * 64)) == 0 { row[i] = -.infinity }
                any = true
            }
        }
        return any
    }

    /// Draws from the temperature-scaled distribution over `l` after top-k, min-p and top-p: the
    /// candidates ranked most likely first (ties by id), the first whose running weight passes
    /// u × total. Ranked by buckets of weight (`RankedCandidates`), not by sorting them all.
    static func draw(_ l: [Float], _ p: SamplingParameters, tokenIndex: Int) -> Int32 {
        // Candidates: weights above 1e-12 (the rest cannot be drawn with a double-precision
        // uniform anyway), from the vectorised exp.
        var cand = RankedCandidates(weights: samplingWeights(l, temperature: p.temperature))
        var sums = cand.bucketSums(.weight)
        guard sums.total > 0 else { return argmax(l) }
        if p.topK > 0, cand.keepTop(p.topK) { sums = cand.bucketSums(.weight) }
        // The most likely candidate has weight exp(0) = 1.
        if p.minP > 0, cand.keepAtLeast(p.minP) { sums = cand.bucketSums(.weight) }
        if p.topP < 1 {
            cand.keepUntilMass(Double(p.topP) * sums.total, sums)
            sums = cand.bucketSums(.weight)
        }
        let u = uniform(seed: p.seed, index: tokenIndex) * sums.total
        return cand.firstPassing(u, inclusive: false, measure: .weight, sums).id
    }

    /// exp((l[i] − max l) / temperature) for every logit (NaN where the maximum is not finite).
    static func samplingWeights(_ l: [Float], temperature: Float) -> [Float] {
        guard !l.isEmpty else { return [] }
        let maxLogit = l[Int(argmax(l))]
        return [Float](unsafeUninitializedCapacity: l.count) { w, n in
            l.withUnsafeBufferPointer { VectorMath.samplingWeights($0.baseAddress!, count: l.count, max: maxLogit, invT: 1 / temperature, into: w.baseAddress!) }
            n = l.count
        }
    }

    static func applyPenalties(_ l: inout [Float], _ p: SamplingParameters, _ history: [Int32]) {
        var counts: [Int32: Int] = [:]
        for t in history.suffix(max(0, p.penaltyWindow)) where t >= 0 && Int(t) < l.count { counts[t, default: 0] += 1 }
        for (t, n) in counts {
            let i = Int(t)
            if p.repetitionPenalty != 1 {
                l[i] = l[i] > 0 ? l[i] / p.repetitionPenalty : l[i] * p.repetitionPenalty
            }
            l[i] -= Float(n) * p.frequencyPenalty + p.presencePenalty
        }
    }

    /// Index of the largest logit (lowest id on ties).
    public static func argmax(_ l: [Float]) -> Int32 { argmax(l[...]) }

    /// Index, relative to the slice's start, of the largest logit (lowest id on ties; a NaN is
    /// never the largest unless it comes first). Vectorised in C: greedy decoding scans the whole
    /// vocabulary every token (262k logits on Gemma, 1.7 % of a decode step as a Swift loop).
    public static func argmax(_ l: ArraySlice<Float>) -> Int32 {
        l.withUnsafeBufferPointer { p in
            guard let base = p.baseAddress, p.count > 0 else { return 0 }
            return Int32(VectorMath.argmax(base, count: p.count))
        }
    }

    /// A uniform double in [0, 1) that depends only on (seed, index): SplitMix64 of a mix of both.
    public static func uniform(seed: UInt64, index: Int) -> Double {
        var z = seed &+ 0x9E37_79B9_7F4A_7C15 &* (UInt64(truncatingIfNeeded: index) &+ 1)
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        z ^= z >> 31
        return Double(z >> 11) * 0x1.0p-53
    }

    /// Log-probabilities (log-softmax of the raw logits) of `token` and of the `top` most likely tokens.
    public static func logprobs(_ logits: ArraySlice<Float>, token: Int32, top: Int) -> (Float, [(Int32, Float)]) {
        let m = Double(logits.max() ?? 0)
        var sum = 0.0
        for x in logits { sum += exp(Double(x) - m) }
        let lse = m + log(sum)
        let base = logits.startIndex
        let chosen = Float(Double(logits[base + Int(token)]) - lse)
        guard top > 0 else { return (chosen, []) }
        var best: [(Int32, Float)] = []
        for (i, x) in logits.enumerated() {
            if best.count < top || x > best[best.count - 1].1 {
                best.append((Int32(i), x))
                best.sort { $0.1 != $1.1 ? $0.1 > $1.1 : $0.0 < $1.0 }
                if best.count > top { best.removeLast() }
            }
        }
        return (chosen, best.map { ($0.0, Float(Double($0.1) - lse)) })
    }
}

/// Which tokens may come next (structured output), as the sampler asks: one token at a time,
/// cheaply, or all of them as a bit set.
public protocol TokenFilter {
    /// Whether `token` may come next.
    func allows(_ token: Int32) -> Bool
    /// Every allowed token: bit i of word i / 64 set allows token i; tokens past the words are
    /// not allowed.
    func allowedWords() -> [UInt64]
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
