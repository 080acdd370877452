import GGUF

/// The tensors of one transformer layer, viewed in place in the mapped file.
struct LayerWeights: Sendable {
    let attnNorm: [Float]
    var wq, wk, wv, wo: WeightMatrix
    let bq, bk, bv: [Float]?
    let qNorm, kNorm: [Float]?
    let postAttnNorm: [Float]?
    let ffnNorm: [Float]
    var gate, up, down: WeightMatrix
    let postFfnNorm: [Float]?

    /// The matrices multiplied per token (what `WeightArena` moves).
    static var matrices: [WritableKeyPath<LayerWeights, WeightMatrix>] { [\.wq, \.wk, \.wv, \.wo, \.gate, \.up, \.down] }

    init(file: GGUFFile, layer il: Int, hp h: Hyperparameters) throws {
        let p = "blk.\(il)."
        let e = h.embeddingLength
        attnNorm = try loadVector(file, p + "attn_norm.weight", count: e)
        wq = try WeightMatrix(file: file, name: p + "attn_q.weight", cols: e, rows: h.qDim)
        wk = try WeightMatrix(file: file, name: p + "attn_k.weight", cols: e, rows: h.kvDim)
        wv = try WeightMatrix(file: file, name: p + "attn_v.weight", cols: e, rows: h.kvDim)
        wo = try WeightMatrix(file: file, name: p + "attn_output.weight", cols: h.qDim, rows: e)
        if h.hasQKVBias {
            bq = try loadVector(file, p + "attn_q.bias", count: h.qDim)
            bk = try loadVector(file, p + "attn_k.bias", count: h.kvDim)
            bv = try loadVector(file, p + "attn_v.bias", count: h.kvDim)
        } else {
            bq = nil; bk = nil; bv = nil
        }
        if h.hasQKNorm {
            qNorm = try loadVector(file, p + "attn_q_norm.weight", count: h.headDim)
            kNorm = try loadVector(file, p + "attn_k_norm.weight", count: h.headDim)
        } else {
            qNorm = nil; kNorm = nil
        }
        ffnNorm = try loadVector(file, p + "ffn_norm.weight", count: e)
        gate = try WeightMatrix(file: file, name: p + "ffn_gate.weight", cols: e, rows: h.feedForwardLength)
        up = try WeightMatrix(file: file, name: p + "ffn_up.weight", cols: e, rows: h.feedForwardLength)
        down = try WeightMatrix(file: file, name: p + "ffn_down.weight", cols: h.feedForwardLength, rows: e)
        if h.hasPostNorms {
            postAttnNorm = try loadVector(file, p + "post_attention_norm.weight", count: e)
            postFfnNorm = try loadVector(file, p + "post_ffw_norm.weight", count: e)
        } else {
            postAttnNorm = nil; postFfnNorm = nil
        }
    }
}
