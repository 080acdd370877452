// Llama family (Llama 2/3, TinyLlama, SmolLM, Mistral-style GQA), following llama.cpp's
// `llm_build_llama`: pre-norm RMSNorm, RoPE in the interleaved ("normal") layout on Q and K
// (convert_hf_to_gguf permutes the Q/K weights for it), SwiGLU FFN, optional untied output.
// RoPE scaling: linear and llama3 (Llama 3.1 frequency bands, from `rope.scaling.*` keys).
import GGUF

enum Llama {
    static func hyperparameters(_ m: GGUFMetadata, tensors: [GGUFTensorInfo]) throws -> Hyperparameters {
        var h = try Hyperparameters(common: m, arch: .llama, tensors: tensors)
        let base = try m.optionalFloat("llama.rope.freq_base") ?? 10_000
        let freqs = try scaledFrequencies(m, prefix: "llama.", base: base, dims: h.ropeDimensions)
        let window = try m.optionalInteger("llama.attention.sliding_window")
        h.layers = Array(repeating: LayerStyle(slidingWindow: window.flatMap { $0 > 0 ? $0 : nil }, ropeInverseFrequencies: freqs),
                         count: h.layerCount)
        return h
    }

    /// Inverse frequencies with the model's rope scaling applied (shared with Qwen2).
    static func scaledFrequencies(_ m: GGUFMetadata, prefix p: String, base: Double, dims: Int) throws -> [Double] {
        let type = try m.optionalString(p + "rope.scaling.type") ?? "none"
        let factor = try m.optionalFloat(p + "rope.scaling.factor") ?? 1
        switch type {
        case "none":
            return Hyperparameters.inverseFrequencies(base: base, dims: dims)
        case "linear":
            return Hyperparameters.inverseFrequencies(base: base, dims: dims, linearScale: factor > 0 ? 1 / factor : 1)
        case "llama3":
            // Llama 3.1: low frequencies divided by factor, high ones kept, a smooth blend between.
            let low = try m.optionalFloat(p + "rope.scaling.low_freq_factor") ?? 1
            let high = try m.optionalFloat(p + "rope.scaling.high_freq_factor") ?? 4
            let original = try m.optionalFloat(p + "rope.scaling.original_context_length") ?? 8192
            let lowWavelen = original / low, highWavelen = original / high
            return Hyperparameters.inverseFrequencies(base: base, dims: dims).map { f in
                let wavelen = 2 * Double.pi / f
                if wavelen < highWavelen { return f }
                if wavelen > lowWavelen { return f / factor }
                let smooth = (original / wavelen - low) / (high - low)
                return (1 - smooth) * f / factor + smooth * f
            }
        default:
            throw ModelRuntimeError.unsupportedRopeScaling(type)
        }
    }
}
