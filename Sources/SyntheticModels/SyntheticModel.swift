import GGUF
import ModelRuntime

/// Small random models in GGUF form, written by our own code for tests and benchmarks
/// (`pipeserve synth-model`). Deterministic: the same spec gives byte-identical files, so an
/// independent reference (scripts/reference/synthetic_reference.py) can be run once and committed.
public struct SyntheticModelSpec: Sendable, Equatable {
    public var architecture: ModelArchitecture = .llama
    public var layers = 4
    public var embedding = 64
    public var heads = 4
    public var kvHeads = 2
    public var headDim = 16
    public var feedForward = 128
    public var context = 256
    /// Extra word pieces beyond the 3 control and 256 byte tokens.
    public var extraPieces = 253
    public var weightType: GGMLType = .f32
    public var slidingWindow = 8
    public var seed: UInt64 = 1

    public init() {}

    /// A named preset: `tiny-llama`, `tiny-qwen2`, `tiny-gemma3` (small, F32, for tests) and
    /// `tinyllama` (TinyLlama 1.1B's shape: 22 layers, hidden 2048, FFN 5632, 32 heads, 4 KV heads,
    /// vocabulary 32000; Q8_0 — for benchmarks where layers dominate).
    public static func preset(_ name: String) -> SyntheticModelSpec? {
        var s = SyntheticModelSpec()
        switch name {
        case "tiny-llama": break
        case "tiny-qwen2": s.architecture = .qwen2; s.seed = 2
        case "tiny-gemma3": s.architecture = .gemma3; s.layers = 6; s.kvHeads = 1; s.seed = 3
        case "tinyllama", "tinyllama-shape":
            s.layers = 22; s.embedding = 2048; s.heads = 32; s.kvHeads = 4; s.headDim = 64; s.feedForward = 5632
            s.context = 2048; s.extraPieces = 32000 - 259; s.weightType = .q8_0; s.seed = 4
        default: return nil
        }
        return s
    }

    public var vocabularySize: Int { 259 + extraPieces }
}

public enum SyntheticModel {
    /// Builds the GGUF file for `spec`.
    public static func writer(_ spec: SyntheticModelSpec) -> GGUFWriter {
        var rng = SplitMix64(seed: spec.seed)
        var w = GGUFWriter()
        let a = spec.architecture.rawValue
        w.set("general.architecture", .string(a))
        w.set("general.name", .string("synthetic-\(a)"))
        w.set("\(a).block_count", .uint32(UInt32(spec.layers)))
        w.set("\(a).embedding_length", .uint32(UInt32(spec.embedding)))
        w.set("\(a).feed_forward_length", .uint32(UInt32(spec.feedForward)))
        w.set("\(a).attention.head_count", .uint32(UInt32(spec.heads)))
        w.set("\(a).attention.head_count_kv", .uint32(UInt32(spec.kvHeads)))
        w.set("\(a).attention.key_length", .uint32(UInt32(spec.headDim)))
        w.set("\(a).attention.value_length", .uint32(UInt32(spec.headDim)))
        w.set("\(a).attention.layer_norm_rms_epsilon", .float32(1e-6))
        w.set("\(a).context_length", .uint32(UInt32(spec.context)))
        w.set("\(a).rope.freq_base", .float32(spec.architecture == .gemma3 ? 1_000_000 : 10_000))
        if spec.architecture == .gemma3 { w.set("gemma3.attention.sliding_window", .uint32(UInt32(spec.slidingWindow))) }
        addVocabulary(&w, spec)

        let e = spec.embedding, q = spec.heads * spec.headDim, kv = spec.kvHeads * spec.headDim, f = spec.feedForward
        func matrix(_ name: String, _ cols: Int, _ rows: Int) {
            let scale = Float(1.0 / Double(cols).squareRoot())
            let values = (0..<(cols * rows)).map { _ in rng.nextSymmetric() * scale * 1.7 }
            w.add(GGUFWriter.Tensor(name: name, dims: [cols, rows], type: spec.weightType,
                                    data: Quantizer.encode(values, as: spec.weightType)))
        }
        func norm(_ name: String, _ n: Int) { w.addF32(name, dims: [n], values: (0..<n).map { _ in 1 + 0.2 * rng.nextSymmetric() }) }
        func bias(_ name: String, _ n: Int) { w.addF32(name, dims: [n], values: (0..<n).map { _ in 0.1 * rng.nextSymmetric() }) }

        let vocab = spec.vocabularySize
        w.add(GGUFWriter.Tensor(name: "token_embd.weight", dims: [e, vocab], type: spec.weightType,
                                data: Quantizer.encode((0..<(e * vocab)).map { _ in rng.nextSymmetric() }, as: spec.weightType)))
        for il in 0..<spec.layers {
            let p = "blk.\(il)."
            norm(p + "attn_norm.weight", e)
            matrix(p + "attn_q.weight", e, q)
            matrix(p + "attn_k.weight", e, kv)
            matrix(p + "attn_v.weight", e, kv)
            if spec.architecture == .qwen2 { bias(p + "attn_q.bias", q); bias(p + "attn_k.bias", kv); bias(p + "attn_v.bias", kv) }
            if spec.architecture == .gemma3 {
                norm(p + "attn_q_norm.weight", spec.headDim); norm(p + "attn_k_norm.weight", spec.headDim)
            }
            matrix(p + "attn_output.weight", q, e)
            if spec.architecture == .gemma3 { norm(p + "post_attention_norm.weight", e) }
            norm(p + "ffn_norm.weight", e)
            matrix(p + "ffn_gate.weight", e, f)
            matrix(p + "ffn_up.weight", e, f)
            matrix(p + "ffn_down.weight", f, e)
            if spec.architecture == .gemma3 { norm(p + "post_ffw_norm.weight", e) }
        }
        norm("output_norm.weight", e)
        if spec.architecture != .gemma3 { matrix("output.weight", e, vocab) }
        return w
    }

    /// A SentencePiece-style vocabulary: <unk> <s> </s>, 256 byte tokens, then pieces.
    static func addVocabulary(_ w: inout GGUFWriter, _ spec: SyntheticModelSpec) {
        var tokens = ["<unk>", "<s>", "</s>"]
        var types: [Int32] = [2, 3, 3]
        for b in 0..<256 {
            tokens.append(String(format: "<0x%02X>", b)); types.append(6)
        }
        let letters = Array("etaoinshrdlucmfwypvbgkjqxz")
        var i = 0
        while tokens.count < spec.vocabularySize {
            // "▁e", "▁t", …, then two-letter pieces — enough for the tokenizer to merge.
            let a = letters[i % letters.count], b = letters[(i / letters.count) % letters.count]
            let piece = i < letters.count ? "▁\(a)" : (i < 2 * letters.count ? "\(a)" : "\(b)\(a)\(i / (letters.count * letters.count))")
            tokens.append(piece); types.append(1)
            i += 1
        }
        let scores = tokens.indices.map { Float(-$0) / 10 }
        w.set("tokenizer.ggml.model", .string("llama"))
        w.set("tokenizer.ggml.tokens", .array(.string, tokens.map { .string($0) }))
        w.set("tokenizer.ggml.scores", .array(.float32, scores.map { .float32($0) }))
        w.set("tokenizer.ggml.token_type", .array(.int32, types.map { .int32($0) }))
        w.set("tokenizer.ggml.bos_token_id", .uint32(1))
        w.set("tokenizer.ggml.eos_token_id", .uint32(2))
        w.set("tokenizer.ggml.unknown_token_id", .uint32(0))
        w.set("tokenizer.ggml.add_bos_token", .bool(true))
    }
}

#if canImport(Foundation)
import Foundation
#endif
