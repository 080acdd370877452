import CKernels

/// The sampler's passes over a vocabulary of weights, in C so that they do not branch on which
/// tokens are kept (see ps_ops.h): token i is kept when `key(w[i], i) >= bound`.
public enum SamplingPasses {
    /// Mantissa bits that name a bucket below each power of two (32 buckets per octave of weight:
    /// four tables of them stay in the L1 cache).
    public static let mantissaBits = Int(PS_SAMPLING_MANTISSA_BITS)

    /// The rank order as one integer: a larger key ranks first (larger weight, then lower id).
    /// Weights must be positive or zero (their bits then order as their values).
    @inlinable
    public static func key(_ w: Float, _ i: Int) -> UInt64 {
        UInt64(w.bitPattern) << 32 | UInt64(UInt32.max - UInt32(truncatingIfNeeded: i))
    }

    /// Per bucket (`buckets` of them), the sum of the kept weights (or their count, when
    /// `count`), plus one entry for the rest; and the lowest bucket of a kept token (`buckets` if
    /// none).
    public static func bucketSums(_ w: UnsafeBufferPointer<Float>, bound: UInt64, count: Bool, lowestExponent: Int,
                                  buckets: Int) -> (sums: [Double], lowest: Int) {
        var sums = [Double](repeating: 0, count: Int(PS_SAMPLING_WAYS) * (buckets + 1))
        let lowest = sums.withUnsafeMutableBufferPointer {
            Int(ps_sampling_bucket_sums(w.baseAddress, Int64(w.count), bound, count ? 1 : 0, Int64(lowestExponent),
                                        $0.baseAddress, Int64(buckets)))
        }
        sums.removeLast(sums.count - buckets - 1)
        return (sums, lowest)
    }

    /// The kept tokens of bucket `bucket` (as `bucketSums` counts them, `buckets` buckets), in
    /// index order.
    public static func bucketMembers(_ w: UnsafeBufferPointer<Float>, bound: UInt64, lowestExponent: Int, buckets: Int,
                                     bucket: Int) -> [Int32] {
        func run(_ ids: inout [Int32]) -> Int {
            ids.withUnsafeMutableBufferPointer {
                Int(ps_sampling_bucket_members(w.baseAddress, Int64(w.count), bound, Int64(lowestExponent), Int64(buckets),
                                               Int64(bucket), $0.baseAddress, Int64($0.count)))
            }
        }
        // A bucket of a flat 262k distribution holds several hundred tokens: room for most in one pass.
        var ids = [Int32](repeating: 0, count: 4096)
        let found = run(&ids)
        if found > ids.count {
            ids = [Int32](repeating: 0, count: found)
            _ = run(&ids)
        }
        return Array(ids.prefix(found))
    }

    /// The smallest key at least `bound`, or UInt64.max.
    public static func minKey(_ w: UnsafeBufferPointer<Float>, atLeast bound: UInt64) -> UInt64 {
        ps_sampling_min_key(w.baseAddress, Int64(w.count), bound)
    }
}
