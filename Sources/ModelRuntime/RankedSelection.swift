/// Selection among sampling candidates by rank, without sorting them all.
///
/// Candidates are ranked by weight, larger first, ties by the lower id, so the rank order is
/// total. Sampling from a flat distribution (a small model at temperature 1 over a 262k-token
/// vocabulary) keeps tens of thousands of candidates; sorting them all cost 30–45 ms a token,
/// most of the last stage's CPU. Instead, candidates are counted into buckets by the bits of
/// their weight (exponent and 7 mantissa bits: monotone in the weight, so every candidate of a
/// higher bucket ranks before every candidate of a lower one and equal weights share a bucket);
/// the buckets are walked from the top, and only the one bucket where the running sum passes
/// its target is ranked element by element. Linear time, deterministic: the result depends only
/// on the candidates and their order on entry.
enum RankedSelection {
    struct Candidate {
        var id: Int32
        var weight: Double
    }

    /// What the running sum adds up: the weights, or one per candidate.
    enum Measure { case weight, count }

    /// Whether `a` ranks before `b`.
    @inline(__always)
    static func ranksBefore(_ a: Candidate, _ b: Candidate) -> Bool {
        a.weight != b.weight ? a.weight > b.weight : a.id < b.id
    }

    /// Buckets cover weights from 2^-41 to 2^0 (sampling keeps weights in (1e-12, 1]); weights
    /// outside fall into the first or last bucket, which keeps the order monotone.
    static let lowestExponent = 1023 - 41
    static let bucketCount = 42 << 7

    @inline(__always)
    static func bucket(_ w: Double) -> Int {
        min(bucketCount - 1, max(0, Int(truncatingIfNeeded: w.bitPattern >> 45) - (lowestExponent << 7)))
    }

    /// The first candidate in rank order at which the running sum of `measure` passes `target`
    /// (`>=` when `inclusive`, else `>`), and — when `keep` — every candidate ranked at or before
    /// it (in some order). When rounding lets no candidate pass, the last-ranked one (and all).
    /// `candidates` must not be empty.
    static func firstPassing(_ candidates: [Candidate], _ target: Double, inclusive: Bool, measure: Measure,
                             keep: Bool) -> (passing: Candidate, kept: [Candidate]) {
        @inline(__always) func passes(_ x: Double) -> Bool { inclusive ? x >= target : x > target }
        var sums = [Double](repeating: 0, count: bucketCount)
        var lowest = bucketCount
        for c in candidates {
            let b = bucket(c.weight)
            sums[b] += measure == .weight ? c.weight : 1
            lowest = min(lowest, b)
        }
        var acc = 0.0
        var chosen = -1
        for b in stride(from: bucketCount - 1, through: lowest, by: -1) where sums[b] > 0 {
            if passes(acc + sums[b]) { chosen = b; break }
            acc += sums[b]
        }
        // Nothing passes (rounding): the last-ranked candidate, in the lowest bucket.
        let inBucket = chosen >= 0 ? chosen : lowest
        var members = candidates.filter { bucket($0.weight) == inBucket }
        members.sort(by: ranksBefore)
        var cut = members.count - 1
        if chosen >= 0 {
            for (i, c) in members.enumerated() {
                acc += measure == .weight ? c.weight : 1
                if passes(acc) { cut = i; break }
            }
        }
        guard keep else { return (members[cut], []) }
        var kept = candidates.filter { bucket($0.weight) > inBucket }
        kept.append(contentsOf: members[...cut])
        return (members[cut], kept)
    }
}
