import Kernels

/// The sampler's candidates — every token whose weight exceeds 1e-12, ranked by weight, larger
/// first, ties by the lower id — and selection among them by rank, without sorting them all.
///
/// Sampling from a flat distribution (a small model at temperature 1 over a 262k-token
/// vocabulary) keeps tens of thousands of candidates; sorting them all cost 30–45 ms a token,
/// most of the last stage's CPU. Instead, the weights stay where they are (the token id is the
/// index) and candidates are counted into buckets by the bits of their weight (exponent and 5
/// mantissa bits: monotone in the weight, so every candidate of a higher bucket ranks before
/// every candidate of a lower one, and equal weights share a bucket); the buckets are walked from
/// the top, and only the one bucket where the running sum passes its target is ranked element by
/// element. Truncation (top-k, top-p, min-p) always keeps a prefix of the rank order, so the set
/// is the weights plus the last candidate kept. Linear time, a few passes over the vocabulary
/// (`Kernels/SamplingPasses`, branch-free), and deterministic: results depend only on the weights.
struct RankedCandidates {
    struct Candidate {
        var id: Int32
        var weight: Float
    }

    /// What a running sum adds up: the weights, or one per candidate.
    enum Measure { case weight, count }

    static let floor: Float = 1e-12

    /// exp((logit − max) / T) per token: positive or zero, never NaN.
    let weights: [Float]
    /// The last-ranked candidate kept by truncation; nil keeps all.
    private(set) var last: Candidate?

    init(weights: [Float]) { self.weights = weights }

    /// Whether `a` ranks before `b`.
    static func ranksBefore(_ a: Candidate, _ b: Candidate) -> Bool {
        a.weight != b.weight ? a.weight > b.weight : a.id < b.id
    }

    /// The smallest rank key kept: the last candidate's, or (no truncation) just above the floor.
    var bound: UInt64 {
        if let last { return SamplingPasses.key(last.weight, Int(last.id)) }
        return UInt64(Self.floor.bitPattern + 1) << 32
    }

    /// Per bucket, the sum of the kept candidates' weights (or their count); `total` adds them up
    /// from the top bucket down, the order `firstPassing` walks them, so a target below the
    /// total is always passed.
    struct BucketSums {
        var sums: [Double]
        var lowest: Int
        var total: Double
    }

    func bucketSums(_ measure: Measure) -> BucketSums {
        let (sums, lowest) = weights.withUnsafeBufferPointer {
            SamplingPasses.bucketSums($0, bound: bound, count: measure == .count, lowestExponent: Self.lowestExponent,
                                      buckets: Self.bucketCount)
        }
        var total = 0.0
        for b in stride(from: Self.bucketCount - 1, through: lowest, by: -1) { total += sums[b] }
        return BucketSums(sums: sums, lowest: lowest, total: total)
    }

    /// Keeps the `k` best-ranked candidates; false when that keeps all.
    mutating func keepTop(_ k: Int) -> Bool {
        let counts = bucketSums(.count)
        guard k > 0, counts.total > Double(k) else { return false }
        last = firstPassing(Double(k), inclusive: true, measure: .count, counts)
        return true
    }

    /// Keeps the candidates whose weight is at least `cut` (all of them when none is); false when
    /// that keeps all.
    mutating func keepAtLeast(_ cut: Float) -> Bool {
        // The kept candidate of smallest key whose weight is at least `cut`.
        let atLeast = max(bound, SamplingPasses.key(cut, Int(UInt32.max)))
        let lowest = weights.withUnsafeBufferPointer { SamplingPasses.minKey($0, atLeast: atLeast) }
        guard lowest != .max, lowest != bound else { return false }
        last = Candidate(id: Int32(truncatingIfNeeded: UInt32.max - UInt32(truncatingIfNeeded: lowest)),
                         weight: Float(bitPattern: UInt32(lowest >> 32)))
        return true
    }

    /// Keeps the candidates up to the first at which the running weight reaches `target`.
    mutating func keepUntilMass(_ target: Double, _ sums: BucketSums) {
        last = firstPassing(target, inclusive: true, measure: .weight, sums)
    }

    /// Buckets cover weights from 2^-41 to 2^0 (candidates have weights in (1e-12, 1]); weights
    /// outside fall into the first or last bucket, which keeps the order monotone. The bucket of a
    /// weight is computed in C (`SamplingPasses`).
    static let lowestExponent = 127 - 41
    static let bucketCount = 42 << SamplingPasses.mantissaBits

    /// The first candidate in rank order at which the running sum of `measure` passes `target`
    /// (`>=` when `inclusive`, else `>`); the last-ranked one when rounding lets none pass; token 0
    /// when there is no candidate (callers check the total first). `sums` are this set's
    /// `bucketSums(measure)`.
    func firstPassing(_ target: Double, inclusive: Bool, measure: Measure, _ sums: BucketSums) -> Candidate {
        func passes(_ x: Double) -> Bool { inclusive ? x >= target : x > target }
        var acc = 0.0
        var chosen = -1
        for b in stride(from: Self.bucketCount - 1, through: sums.lowest, by: -1) where sums.sums[b] > 0 {
            if passes(acc + sums.sums[b]) { chosen = b; break }
            acc += sums.sums[b]
        }
        // Nothing passes (rounding): the last-ranked candidate, in the lowest bucket.
        let inBucket = chosen >= 0 ? chosen : sums.lowest
        let bound = self.bound
        var members = weights.withUnsafeBufferPointer { w in
            SamplingPasses.bucketMembers(w, bound: bound, lowestExponent: Self.lowestExponent, buckets: Self.bucketCount,
                                         bucket: inBucket).map { Candidate(id: $0, weight: w[Int($0)]) }
        }
        members.sort(by: Self.ranksBefore)
        guard let lastMember = members.last else { return Candidate(id: 0, weight: 0) }  // no candidate at all
        if chosen >= 0 {
            for c in members {
                acc += measure == .weight ? Double(c.weight) : 1
                if passes(acc) { return c }
            }
        }
        // The passing point lies in this bucket by the bucket's sum (or nowhere, by rounding).
        return lastMember
    }
}
