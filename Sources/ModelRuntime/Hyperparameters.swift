import GGUF

/// A model's shape and numeric constants, read from GGUF metadata.
public struct Hyperparameters: Sendable {
    public var architecture: ModelArchitecture
    public var layerCount: Int
    public var embeddingLength: Int
    public var feedForwardLength: Int
    public var headCount: Int
    public var kvHeadCount: Int
    public var headDim: Int
    public var valueDim: Int
    public var rmsEpsilon: Float
    public var contextLength: Int
    public var vocabularySize: Int
    public var ropeDimensions: Int
    public var ropeNeox: Bool
    /// Query scale before the dot product with keys.
    public var attentionScale: Float
    public var attentionSoftcap: Float
    public var finalLogitSoftcap: Float
    /// Embedding multiplier (Gemma: sqrt(n_embd)); 1 elsewhere.
    public var embeddingScale: Float
    public var activation: FeedForwardActivation
    /// Gemma: per-head RMS norm of Q and K, and norms after attention and FFN outputs.
    public var hasQKNorm: Bool
    public var hasPostNorms: Bool
    /// Qwen2: biases on Q, K and V projections.
    public var hasQKVBias: Bool
    /// Per-layer attention window and RoPE frequencies.
    public var layers: [LayerStyle]

    public var qDim: Int { headCount * headDim }
    public var kvDim: Int { kvHeadCount * headDim }

    /// Reads the hyperparameters of a supported architecture; errors name the missing or invalid key.
    public init(metadata m: GGUFMetadata, tensors: [GGUFTensorInfo]) throws {
        let archName: String
        do { archName = try m.string("general.architecture") } catch let e as GGUFError { throw ModelRuntimeError.gguf(e) }
        guard let arch = ModelArchitecture(rawValue: archName) else { throw ModelRuntimeError.unsupportedArchitecture(archName) }
        do {
            switch arch {
            case .gemma3: self = try Gemma3.hyperparameters(m, tensors: tensors)
            case .llama: self = try Llama.hyperparameters(m, tensors: tensors)
            case .qwen2: self = try Qwen2.hyperparameters(m, tensors: tensors)
            }
        } catch let e as GGUFError { throw ModelRuntimeError.gguf(e) }
        try validate()
    }

    init(common m: GGUFMetadata, arch: ModelArchitecture, tensors: [GGUFTensorInfo]) throws {
        let p = arch.rawValue + "."
        architecture = arch
        layerCount = try m.integer(p + "block_count")
        embeddingLength = try m.integer(p + "embedding_length")
        feedForwardLength = try m.integer(p + "feed_forward_length")
        headCount = try m.integer(p + "attention.head_count")
        kvHeadCount = try m.optionalInteger(p + "attention.head_count_kv") ?? headCount
        let defaultHead = headCount > 0 ? embeddingLength / headCount : 0
        headDim = try m.optionalInteger(p + "attention.key_length") ?? defaultHead
        valueDim = try m.optionalInteger(p + "attention.value_length") ?? headDim
        rmsEpsilon = Float(try m.float(p + "attention.layer_norm_rms_epsilon"))
        contextLength = try m.optionalInteger(p + "context_length") ?? 2048
        let embd = tensors.first { $0.name == "token_embd.weight" }
        vocabularySize = try m.optionalInteger(p + "vocab_size")
            ?? (try m.stringArray("tokenizer.ggml.tokens"))?.count ?? embd?.dims.last ?? 0
        ropeDimensions = try m.optionalInteger(p + "rope.dimension_count") ?? headDim
        ropeNeox = false
        attentionScale = headDim > 0 ? 1 / Float(headDim).squareRoot() : 1
        attentionSoftcap = Float(try m.optionalFloat(p + "attn_logit_softcapping") ?? 0)
        finalLogitSoftcap = Float(try m.optionalFloat(p + "final_logit_softcapping") ?? 0)
        embeddingScale = 1
        activation = .silu
        hasQKNorm = false
        hasPostNorms = false
        hasQKVBias = false
        layers = []
        // Before any architecture derives per-layer tables from these (a negative rope
        // dimension count or block count would otherwise trap building them).
        try validate()
    }

    /// RoPE inverse frequencies base^(-2i/d) for i < d/2, with linear scaling folded in.
    static func inverseFrequencies(base: Double, dims: Int, linearScale: Double = 1) -> [Double] {
        (0..<(dims / 2)).map { i in linearScale * pow(base, -2.0 * Double(i) / Double(dims)) }
    }

    func validate() throws {
        func check(_ ok: Bool, _ key: String, _ why: String) throws {
            if !ok { throw ModelRuntimeError.invalidHyperparameter(key: architecture.rawValue + "." + key, reason: why) }
        }
        try check(layerCount >= 1 && layerCount <= 4096, "block_count", "\(layerCount) is not in 1…4096")
        try check(embeddingLength >= 1 && embeddingLength <= 1 << 16, "embedding_length", "\(embeddingLength) is not in 1…65536")
        try check(feedForwardLength >= 1 && feedForwardLength <= 1 << 18, "feed_forward_length", "\(feedForwardLength) is out of range")
        try check(headCount >= 1 && headCount <= 1024, "attention.head_count", "\(headCount) is out of range")
        try check(kvHeadCount >= 1 && headCount % kvHeadCount == 0, "attention.head_count_kv",
                  "\(kvHeadCount) must be ≥ 1 and divide head_count \(headCount)")
        try check(headDim >= 2 && headDim <= 1024 && headDim % 2 == 0, "attention.key_length", "\(headDim) must be even, 2…1024")
        try check(valueDim == headDim, "attention.value_length", "\(valueDim) differs from key_length \(headDim) (not supported)")
        try check(ropeDimensions >= 2 && ropeDimensions <= headDim && ropeDimensions % 2 == 0, "rope.dimension_count",
                  "\(ropeDimensions) must be even and ≤ head dim \(headDim)")
        try check(contextLength >= 1, "context_length", "\(contextLength) must be ≥ 1")
        try check(vocabularySize >= 1, "vocab_size", "vocabulary is empty")
        try check(rmsEpsilon > 0 && rmsEpsilon < 1, "attention.layer_norm_rms_epsilon", "\(rmsEpsilon) is out of range")
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
