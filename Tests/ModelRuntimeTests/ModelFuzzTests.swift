import Foundation
import GGUF
import ServingTypes
import Testing
import Tokenization
@testable import ModelRuntime
import SyntheticModels

/// Mutation fuzzing of the model loader on small synthetic Llama, Qwen2 and Gemma 3 files:
/// structural mutations through `GGUFWriter` (hyperparameters replaced by interesting values or
/// other types, keys and tensors removed, tensor shapes and types changed, vocabulary arrays
/// shortened) and byte mutations of the encoded header. Each accepted file goes through
/// `LayerRangeModel` (a random layer range), the tokenizer, and a short forward pass.
/// Invariants: no trap; a file is rejected with a `GGUFError` at open or a `ModelRuntimeError`
/// at load or forward, whose context is true of the file (`contextProblem`); a forward pass
/// that succeeds returns the shape its stage promises.
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
            let label = "seed \(Self.seed) case \(index)"
            let file: GGUFFile
            do {
                file = try GGUFFile(path: path)
            } catch let error as GGUFError {
                errors["GGUFError", default: 0] += 1
                if let problem = Self.contextProblem(error, file: nil, bytes: bytes) { Issue.record("\(label): \(error): \(problem)") }
                continue
            } catch {
                Issue.record("\(label): opening threw \(type(of: error)), not a GGUFError: \(error)")
                continue
            }
            do {
                let arch = (try? file.metadata.string("general.architecture")) ?? ""
                let layerCount = (try? file.metadata.integer(arch + ".block_count")) ?? 2
                let range: Range<Int>? = Bool.random(using: &g) ? nil : (Bool.random(using: &g) ? 0..<1 : 1..<max(2, layerCount))
                let model = try LayerRangeModel(file: file, layers: range, threads: 1, logger: testLogger)
                loaded += 1
                let h = model.hyperparameters
                #expect(model.layerRange == (range ?? 0..<h.layerCount) && model.layers.count == model.layerRange.count, "\(label)")
                let tokenizer = try? Tokenizer(gguf: file)
                var tokens = tokenizer?.encode("the cat sat", addSpecial: true) ?? [1, 2, 3]
                if tokens.isEmpty { tokens = [1] }
                _ = tokenizer?.decode(tokens + [Int32(h.vocabularySize), -1, .max])
                let hidden: [Float]? = model.isFirst ? nil : [Float](repeating: 0.5, count: tokens.count * h.embeddingLength)
                let chunk = model.isFirst
                    ? SequenceChunk(sequence: SequenceID(1), startPosition: 0, tokens: tokens)
                    : SequenceChunk(sequence: SequenceID(1), startPosition: 0, count: tokens.count)
                let out = try model.forward([chunk], hidden: hidden)
                ranForward += 1
                // What came out has the shape the stage promises: hidden states for every token, or
                // one logit row (the last position) on the last stage.
                if model.isLast {
                    #expect(out.hidden.isEmpty && out.logits.count == h.vocabularySize && out.vocabularySize == h.vocabularySize,
                            "\(label): \(out.logits.count) logits for a vocabulary of \(h.vocabularySize)")
                    #expect(out.logitRows.count == 1 && out.logitRows.first?.position == tokens.count - 1, "\(label)")
                } else {
                    #expect(out.hidden.count == tokens.count * h.embeddingLength && out.logits.isEmpty, "\(label)")
                }
            } catch let error as ModelRuntimeError {
                errors["ModelRuntimeError", default: 0] += 1
                if let problem = Self.contextProblem(error, file: file, bytes: bytes) { Issue.record("\(label): \(error): \(problem)") }
            } catch {
                Issue.record("\(label): \(type(of: error)) thrown, not a ModelRuntimeError: \(error)")
            }
        }
        let rejected = errors.values.reduce(0, +)
        print("fuzz-summary surface=model seed=\(Self.seed) cases=\(Self.cases) loaded=\(loaded) forward-ok=\(ranForward) rejected=\(rejected) by-type=\(errors.sorted { $0.key < $1.key }) crashes=0")
        if Self.cases >= 100 {
            #expect(loaded > Self.cases / 20, "mutations too destructive to reach the loader")
            #expect(rejected > Self.cases / 5)
        }
    }

    /// Why `error` does not describe the file truthfully, or nil: a missing tensor is missing, a
    /// tensor of the wrong type or shape has that type or shape, a bad key is in the file (or
    /// absent when said to be missing), an out-of-range token or position is out of range.
    static func contextProblem(_ error: ModelRuntimeError, file: GGUFFile, bytes: [UInt8]) -> String? {
        switch error {
        case let .unsupportedArchitecture(a):
            return ModelArchitecture(rawValue: a) == nil && (try? file.metadata.string("general.architecture")) == a
                ? nil : "the file's architecture is supported or not \(a.debugDescription)"
        case let .missingTensor(name):
            return file.tensorInfo(name) == nil ? nil : "the file has \(name)"
        case let .unsupportedTensorType(name, type):
            guard let info = file.tensorInfo(name) else { return "the file has no \(name)" }
            return info.type.name == type ? nil : "\(name) is \(info.type.name)"
        case let .tensorShape(name, expected, found):
            guard let info = file.tensorInfo(name) else { return "the file has no \(name)" }
            return info.dims == found && found != expected ? nil : "\(name) is \(info.dims)"
        case let .invalidHyperparameter(key, reason):
            return !key.isEmpty && !reason.isEmpty ? nil : "names no key or reason"
        case let .invalidLayerRange(start, end, layerCount):
            return start < 0 || end > layerCount || start >= end ? nil : "[\(start), \(end)) is inside \(layerCount) layers"
        case let .contextOverflow(_, position, contextLength):
            return position >= contextLength ? nil : "position \(position) is inside the context \(contextLength)"
        case let .tokenOutOfRange(token, vocabularySize):
            return token < 0 || Int(token) >= vocabularySize ? nil : "token \(token) is inside the vocabulary \(vocabularySize)"
        case let .unsupportedRopeScaling(type):
            let arch = (try? file.metadata.string("general.architecture")) ?? ""
            return (try? file.metadata.string(arch + ".rope.scaling.type")) == type && type != "none" && type != "linear"
                ? nil : "the file's rope scaling is not \(type.debugDescription), or it is supported"
        case .invalidBatch, .positionGap, .positionDropped, .blockMissing, .invalidBlock:
            return "a fresh single-chunk batch cannot fail this way"
        case let .gguf(e):
            return contextProblem(e, file: file, bytes: bytes)
        }
    }

    /// The same for a `GGUFError`: from opening (`file` nil) or from reading metadata.
    static func contextProblem(_ error: GGUFError, file: GGUFFile?, bytes: [UInt8]) -> String? {
        switch error {
        case let .missingKey(key):
            guard let file else { return "opening cannot miss a key" }
            return file.metadata[key] == nil ? nil : "the file has \(key)"
        case let .wrongValueType(key, expected, found):
            if let file, file.metadata[key] == nil { return "the file has no \(key)" }
            return expected != found ? nil : "expected and found types agree"
        case .tensorNotFound, .cannotOpen:
            return "a regular file with its tensors looked up by table cannot fail this way"
        case let .truncated(_, offset, needed, available):
            return file == nil && offset + available == bytes.count && needed > available
                ? nil : "offset \(offset) + \(available) bytes left is not the file's \(bytes.count), or \(needed) fit"
        case let .absurdCount(_, count, limit):
            return count > limit ? nil : "count \(count) is within \(limit)"
        case let .tensorOutOfBounds(_, offset, size, dataSize):
            return dataSize < bytes.count && (offset > UInt64(dataSize) || UInt64(size) > UInt64(dataSize) - offset)
                ? nil : "the tensor fits in \(dataSize) bytes"
        case let .misalignedTensor(_, offset, alignment):
            return offset % UInt64(max(alignment, 1)) != 0 ? nil : "offset \(offset) is aligned"
        case let .unknownTensorType(_, type):
            return GGMLType(rawValue: type) == nil ? nil : "type \(type) is known"
        case let .unsupportedVersion(v):
            return v != 2 && v != 3 ? nil : "version \(v) is supported"
        case let .invalidAlignment(a):
            return a == 0 || a > 65536 || a & (a - 1) != 0 ? nil : "alignment \(a) is valid"
        case .badMagic, .invalidString, .unknownValueType, .duplicateKey, .duplicateTensor, .invalidTensorShape, .nestingTooDeep:
            return file == nil ? nil : "reading metadata of an open file cannot fail this way"
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
