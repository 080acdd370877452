import GGUF

/// The seed corpus: small valid files from `GGUFWriter` that reach every value type, nested and
/// long (deferred) arrays, several tensor types and alignments, version 2, and the tokenizer
/// keys of both vocabulary kinds.
enum GGUFSeeds {
    static func sample() -> GGUFWriter {
        var w = GGUFWriter()
        w.set("general.architecture", .string("llama"))
        w.set("general.name", .string("tiny"))
        w.set("test.u8", .uint8(200)); w.set("test.i8", .int8(-5)); w.set("test.u16", .uint16(60000))
        w.set("test.i16", .int16(-30000)); w.set("test.u32", .uint32(4_000_000_000)); w.set("test.i32", .int32(-7))
        w.set("test.f32", .float32(1.5)); w.set("test.bool", .bool(true)); w.set("test.u64", .uint64(1 << 40))
        w.set("test.i64", .int64(-(1 << 40))); w.set("test.f64", .float64(2.25)); w.set("test.str", .string("héllo ▁ 🙂"))
        w.set("test.nested", .array(.array, [.array(.int32, [.int32(1), .int32(2)]), .array(.string, [.string("x")])]))
        w.set("test.empty", .array(.float32, []))
        w.addF32("a", dims: [4, 2], values: [1, 2, 3, 4, 5, 6, 7, 8])
        w.addF32("b", dims: [3], values: [9, 10, 11])
        return w
    }

    /// Long arrays (deferred decoding), alignment 64 and quantized tensors, a SentencePiece vocabulary.
    static func rich() -> GGUFWriter {
        var w = GGUFWriter()
        w.alignment = 64
        w.set("general.architecture", .string("llama"))
        w.set("general.alignment", .uint32(64))
        w.set("tokenizer.ggml.model", .string("llama"))
        var tokens: [GGUFValue] = [.string("<unk>"), .string("<s>"), .string("</s>"), .string("<start_of_turn>")]
        tokens += (0 ..< 76).map { .string($0 % 7 == 0 ? "▁tok\($0)🙂" : "t\($0)") }
        w.set("tokenizer.ggml.tokens", .array(.string, tokens))
        w.set("tokenizer.ggml.scores", .array(.float32, (0 ..< 80).map { .float32(-Float($0)) }))
        w.set("tokenizer.ggml.token_type", .array(.int32, (0 ..< 80).map { .int32($0 < 4 ? [2, 3, 3, 4][$0] : Int32($0 % 6 + 1)) }))
        w.set("tokenizer.ggml.bos_token_id", .uint32(1))
        w.set("tokenizer.ggml.eos_token_id", .uint32(2))
        w.set("tokenizer.ggml.unknown_token_id", .uint32(0))
        w.set("llama.block_count", .uint32(2))
        w.set("llama.rope.freq_base", .float64(10000))
        w.set("test.bools", .array(.bool, [.bool(true), .bool(false)]))
        w.add(GGUFWriter.Tensor(name: "q8", dims: [32, 2], type: .q8_0, data: (0 ..< 68).map { UInt8($0) }))
        w.add(GGUFWriter.Tensor(name: "q4k", dims: [256], type: .q4_K, data: [UInt8](repeating: 7, count: 144)))
        w.add(GGUFWriter.Tensor(name: "h", dims: [3, 1, 1, 2], type: .f16, data: [UInt8](repeating: 0x3C, count: 12)))
        w.addF32("f", dims: [5], values: [1, -2, 3, -4, 5])
        return w
    }

    /// A byte-level BPE vocabulary (short arrays, decoded at open).
    static func bytePair() -> GGUFWriter {
        var w = GGUFWriter()
        w.set("general.architecture", .string("qwen2"))
        w.set("tokenizer.ggml.model", .string("gpt2"))
        w.set("tokenizer.ggml.pre", .string("qwen2"))
        let tokens = ["a", "b", "c", "Ġ", "ab", "abc", "Ġa", "<|endoftext|>", "<|im_end|>", "1", "2"]
        w.set("tokenizer.ggml.tokens", .array(.string, tokens.map { .string($0) }))
        w.set("tokenizer.ggml.token_type", .array(.int32, tokens.map { .int32($0.hasPrefix("<|") ? 3 : 1) }))
        w.set("tokenizer.ggml.merges", .array(.string, ["a b", "ab c", "Ġ a"].map { .string($0) }))
        w.set("tokenizer.ggml.eos_token_id", .uint32(8))
        w.set("tokenizer.ggml.add_bos_token", .bool(false))
        w.addF32("token_embd.weight", dims: [2, 11], values: (0 ..< 22).map { Float($0) })
        return w
    }

    static var all: [[UInt8]] {
        var v2 = sample()
        v2.version = 2
        return [sample().encoded(), rich().encoded(), v2.encoded(), bytePair().encoded()]
    }
}
