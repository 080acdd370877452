// Gemma 3, following llama.cpp's `llm_build_gemma3_iswa` (src/models/gemma3.cpp) and the
// Gemma 3 technical report: sliding-window local layers with RoPE base 10 000 and a global layer
// every 6th (index 5, 11, …) with the metadata base; QK-norm; four RMS norms per layer (attn,
// post-attention, ffn, post-ffw); GELU-tanh gated FFN; embeddings scaled by sqrt(n_embd); tied
// output embedding. Norm weights in GGUF already include Gemma's +1.
import GGUF

enum Gemma3 {
    static let localRopeBase = 10_000.0
    static let slidingPattern = 6

    static func hyperparameters(_ m: GGUFMetadata, tensors: [GGUFTensorInfo]) throws -> Hyperparameters {
        var h = try Hyperparameters(common: m, arch: .gemma3, tensors: tensors)
        let window = try m.integer("gemma3.attention.sliding_window")
        guard window >= 1 else {
            throw ModelRuntimeError.invalidHyperparameter(key: "gemma3.attention.sliding_window", reason: "\(window) must be ≥ 1")
        }
        let globalBase = try m.optionalFloat("gemma3.rope.freq_base") ?? 1_000_000
        var globalScale = 1.0
        if let type = try m.optionalString("gemma3.rope.scaling.type"), type != "none" {
            guard type == "linear" else { throw ModelRuntimeError.unsupportedRopeScaling(type) }
            let factor = try m.optionalFloat("gemma3.rope.scaling.factor") ?? 1
            globalScale = factor > 0 ? 1 / factor : 1
        }
        h.ropeNeox = true
        h.embeddingScale = Float(h.embeddingLength).squareRoot()
        h.activation = .geluTanh
        h.hasQKNorm = true
        h.hasPostNorms = true
        // llama.cpp: 1/sqrt(n_embd_head_k), except the 27B model (query_pre_attn_scalar = n_embd/n_head).
        if let scalar = try m.optionalFloat("gemma3.attention.query_pre_attn_scalar"), scalar > 0 {
            h.attentionScale = Float(1 / scalar.squareRoot())
        }
        let local = Hyperparameters.inverseFrequencies(base: localRopeBase, dims: h.ropeDimensions)
        let global = Hyperparameters.inverseFrequencies(base: globalBase, dims: h.ropeDimensions, linearScale: globalScale)
        h.layers = (0..<h.layerCount).map { il in
            il % slidingPattern < slidingPattern - 1
                ? LayerStyle(slidingWindow: window, ropeInverseFrequencies: local)
                : LayerStyle(slidingWindow: nil, ropeInverseFrequencies: global)
        }
        return h
    }
}
