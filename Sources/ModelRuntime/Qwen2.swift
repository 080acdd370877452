// Qwen2, following llama.cpp's `llm_build_qwen2`: the Llama block with biases on the Q, K and V
// projections and RoPE in the NeoX layout (halves rotated together).
import GGUF

enum Qwen2 {
    static func hyperparameters(_ m: GGUFMetadata, tensors: [GGUFTensorInfo]) throws -> Hyperparameters {
        var h = try Hyperparameters(common: m, arch: .qwen2, tensors: tensors)
        let base = try m.optionalFloat("qwen2.rope.freq_base") ?? 10_000
        let freqs = try Llama.scaledFrequencies(m, prefix: "qwen2.", base: base, dims: h.ropeDimensions)
        h.ropeNeox = true
        h.hasQKVBias = true
        h.layers = Array(repeating: LayerStyle(slidingWindow: nil, ropeInverseFrequencies: freqs), count: h.layerCount)
        return h
    }
}
