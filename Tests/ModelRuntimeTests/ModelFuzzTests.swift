import Foundation
import GGUF
import Testing
import Tokenization
@testable import ModelRuntime
import SyntheticModels

/// Mutation fuzzing of the model loader on small synthetic Llama, Qwen2 and Gemma 3 files:
/// structural mutations through `GGUFWriter` (hyperparameters replaced by interesting values or
/// other types, keys and tensors removed, tensor shapes and types changed, vocabulary arrays
/// shortened) and byte mutations of the encoded header. Each accepted file goes through
/// `LayerRangeModel` (a random layer range), the tokenizer, and a short forward pass.
/// Invariant: no trap; every rejection is a thrown error.
///
/// `PIPESERVE_FUZZ_CASES` (default 200) and `PIPESERVE_FUZZ_SEED` scale and vary the run.
@Suite struct ModelFuzzTests {
    static let cases = ProcessInfo.processInfo.environment["PIPESERVE_FUZZ_CASES"].flatMap { Int($0) } ?? 200
    static let seed = ProcessInfo.processInfo.environment["PIPESERVE_FUZZ_SEED"].flatMap { UInt64($0) } ?? 0x4D4F_4445

    static func spec(_ arch: ModelArchitecture) -> SyntheticModelSpec {
        var s = SyntheticModelSpec()
        s.architecture = arch
        s.layers = 2; s.embedding = 32; s.heads = 2; s.kvHeads = 1; s.headDim = 16; s.feedForward = 64
        s.context = 64; s.extraPieces = 61; s.slidingWindow = 4
        return s
    }

    static let interesting: [GGUFValue] = [
        .uint32(0), .uint32(1), .uint32(2), .uint32(3), .uint32(7), .uint32(16), .uint32(17), .uint32(33), .uint32(4096),
        .uint32(65537), .uint32(.max), .int32(-1), .int32(.min), .uint64(.max), .uint64(1 << 40), .int64(.min), .int64(-2),
        .float32(0), .float32(-1), .float32(.nan), .float32(.infinity), .float32(1e30), .float64(-0.0), .float64(.nan),
        .string(""), .string("gemma3"), .string("llama"), .string("gpt2"), .bool(false), .array(.int32, []),
        .array(.string, [.string("a")]), .array(.float32, [.float32(.nan)]),
    ]

    @Test func mutatedSyntheticModelsLoadOrThrow() throws {
        let bases = [ModelArchitecture.llama, .qwen2, .gemma3].map { SyntheticModel.writer(Self.spec($0)) }
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("pipeserve-modelfuzz-\(getpid()).gguf").path
        defer { unlink(path) }
        var g = SplitMix64(seed: Self.seed)
        var loaded = 0, ranForward = 0
        var errors: [String: Int] = [:]
        for index in 0..<Self.cases {
            var w = bases.randomElement(using: &g)!
            var bytes: [UInt8]
            if Int.random(in: 0..<3, using: &g) == 0 {
                bytes = Self.mutateBytes(w.encoded(), &g)
            } else {
                for _ in 0..<Int.random(in: 1...3, using: &g) { Self.mutateStructure(&w, &g) }
                bytes = w.encoded()
            }
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            do {
                let file = try GGUFFile(path: path)
                let arch = (try? file.metadata.string("general.architecture")) ?? ""
                let layerCount = (try? file.metadata.integer(arch + ".block_count")) ?? 2
                let range: Range<Int>? = Bool.random(using: &g) ? nil : (Bool.random(using: &g) ? 0..<1 : 1..<max(2, layerCount))
                let model = try LayerRangeModel(file: file, layers: range, threads: 1, logger: testLogger)
                loaded += 1
                let tokenizer = try? Tokenizer(gguf: file)
                var tokens = tokenizer?.encode("the cat sat", addSpecial: true) ?? [1, 2, 3]
                if tokens.isEmpty { tokens = [1] }
                _ = tokenizer?.decode(tokens + [Int32(model.hyperparameters.vocabularySize), -1, .max])
                let h = model.hyperparameters
                let hidden: [Float]? = model.isFirst ? nil : [Float](repeating: 0.5, count: tokens.count * h.embeddingLength)
                let chunk = model.isFirst
                    ? SequenceChunk(sequence: SequenceID(1), startPosition: 0, tokens: tokens)
                    : SequenceChunk(sequence: SequenceID(1), startPosition: 0, count: tokens.count)
                _ = try model.forward([chunk], hidden: hidden)
                ranForward += 1
            } catch {
                errors[String(describing: type(of: error)), default: 0] += 1
                #expect(!String(describing: error).isEmpty, "case \(index)")
            }
        }
        let rejected = errors.values.reduce(0, +)
        print("fuzz-summary surface=model seed=\(Self.seed) cases=\(Self.cases) loaded=\(loaded) forward-ok=\(ranForward) rejected=\(rejected) by-type=\(errors.sorted { $0.key < $1.key }) crashes=0")
        if Self.cases >= 100 {
            #expect(loaded > Self.cases / 20, "mutations too destructive to reach the loader")
            #expect(rejected > Self.cases / 5)
        }
    }

    static func mutateStructure(_ w: inout GGUFWriter, _ g: inout SplitMix64) {
        switch Int.random(in: 0..<7, using: &g) {
        case 0 where !w.metadata.isEmpty, 1 where !w.metadata.isEmpty, 2 where !w.metadata.isEmpty:  // a metadata value replaced
            let i = Int.random(in: 0..<w.metadata.count, using: &g)
            w.metadata[i].1 = interesting.randomElement(using: &g)!
        case 3 where !w.metadata.isEmpty:  // a key removed
            w.metadata.remove(at: Int.random(in: 0..<w.metadata.count, using: &g))
        case 4 where !w.tensors.isEmpty:  // a tensor's shape changed (data left as it was)
            let i = Int.random(in: 0..<w.tensors.count, using: &g)
            var dims = w.tensors[i].dims
            switch Int.random(in: 0..<4, using: &g) {
            case 0: dims.reverse()
            case 1: dims[0] *= 2
            case 2: dims = [dims.reduce(1, *)]
            default: dims.append(1)
            }
            w.tensors[i].dims = dims
        case 5 where !w.tensors.isEmpty:  // a tensor removed or renamed
            let i = Int.random(in: 0..<w.tensors.count, using: &g)
            if Bool.random(using: &g) { w.tensors.remove(at: i) } else { w.tensors[i].name += ".x" }
        default:  // a tensor's type changed, with data re-sized to stay in bounds half of the time
            guard !w.tensors.isEmpty else { return }
            let i = Int.random(in: 0..<w.tensors.count, using: &g)
            let type = [GGMLType.f16, .bf16, .q8_0, .q4_0, .q6_K, GGMLType(rawValue: 3)!].randomElement(using: &g)!
            w.tensors[i].type = type
            let elements = w.tensors[i].dims.reduce(1, *)
            if Bool.random(using: &g), let bytes = type.byteCount(elements: elements) {
                w.tensors[i].data = [UInt8](repeating: 0x11, count: bytes)
            }
        }
    }

    static func mutateBytes(_ seed: [UInt8], _ g: inout SplitMix64) -> [UInt8] {
        var b = seed
        let headerEnd = min(b.count, 12_000)  // metadata and tensor table of these small models
        for _ in 0..<Int.random(in: 1...4, using: &g) {
            let at = Int.random(in: 0..<headerEnd, using: &g)
            switch Int.random(in: 0..<3, using: &g) {
            case 0: b[at] ^= 1 << UInt8.random(in: 0...7, using: &g)
            case 1: b[at] = UInt8.random(in: 0...255, using: &g)
            default:
                let v: UInt64 = [0, 1, 2, 3, 31, 32, 33, 255, 0xFFFF_FFFF, UInt64.max, 1 << 40].randomElement(using: &g)!
                for k in 0..<8 where at + k < b.count { b[at + k] = UInt8(truncatingIfNeeded: v >> (8 * UInt64(k))) }
            }
        }
        return b
    }
}
