import CKernels

/// Causal attention over a KV cache (`ps_attention_query` in `ps_ops.h`): tiled keys with an online
/// softmax, work memory on the stack whatever the context, and each query's result bitwise the
/// same whichever block of queries it is computed in — so prefill and decode agree.
public enum Attention {
    /// The most consecutive queries of one sequence a `query` call takes.
    @inlinable public static var maxQueries: Int { Int(PS_ATTENTION_QUERIES) }

    /// Attention of `count` (<= `maxQueries`) consecutive query tokens of one sequence, heads
    /// `heads`: query i (at `q + i * qStride`, result at `out + i * outStride`) is at position
    /// `position + i` and reads the cached keys and values of positions
    /// `[max(0, position + i - window + 1), position + i + 1)` (`window` <= 0: from 0):
    /// `out_h = softmax(scale * q_h · k_p) · v_p`, soft-capped with tanh when `softcap` > 0.
    ///
    /// The cache is a ring of `ring` rows `kvStride` floats apart: position p is row p % ring, kv
    /// head g at offset g * headDim. Head h reads kv head h / (headCount / kvHeadCount).
    @inlinable
    public static func query(
        _ q: UnsafePointer<Float>, qStride: Int, count: Int, position: Int, window: Int,
        keys: UnsafePointer<Float>, values: UnsafePointer<Float>, kvStride: Int, ring: Int,
        headCount: Int, kvHeadCount: Int, headDim: Int, scale: Float, softcap: Float, heads: Range<Int>,
        into out: UnsafeMutablePointer<Float>, outStride: Int
    ) {
        ps_attention_query(q, Int64(qStride), Int64(count), Int64(position), Int64(window), keys, values, Int64(kvStride),
                           Int64(ring), Int64(headCount), Int64(kvHeadCount), Int64(headDim), scale, softcap,
                           Int64(heads.lowerBound), Int64(heads.upperBound), out, Int64(outStride))
    }
}
