import Foundation
import Testing
@testable import GGUF

/// Mutation fuzzing of `GGUFFile`: valid files from `GGUFWriter` (every value type, nested and
/// long deferred arrays, several tensor types and alignments) damaged by bit flips, interesting
/// integers at 4- and 8-byte positions (counts, lengths, types, dims, offsets), insertions,
/// deletions, truncations and splices. Invariants: no trap; a rejected file throws a
/// `GGUFError`; an accepted file can be walked completely (every metadata value decoded and
/// rendered, every typed accessor, every tensor's bytes inside the mapping) without a trap.
///
/// `PIPESERVE_FUZZ_CASES` (default 300) and `PIPESERVE_FUZZ_SEED` scale and vary the run.
@Suite struct GGUFFuzzTests {
    static let cases = ProcessInfo.processInfo.environment["PIPESERVE_FUZZ_CASES"].flatMap { Int($0) } ?? 300
    static let seed = ProcessInfo.processInfo.environment["PIPESERVE_FUZZ_SEED"].flatMap { UInt64($0) } ?? 0x4747_5546

    /// A file that reaches the deferred-array, alignment and quantized-tensor paths.
    static func richWriter() -> GGUFWriter {
        var w = GGUFWriter()
        w.alignment = 64
        w.set("general.architecture", .string("llama"))
        w.set("general.alignment", .uint32(64))
        w.set("tokenizer.ggml.model", .string("llama"))
        w.set("tokenizer.ggml.tokens", .array(.string, (0..<80).map { .string($0 % 7 == 0 ? "▁tok\($0)🙂" : "t\($0)") }))
        w.set("tokenizer.ggml.scores", .array(.float32, (0..<80).map { .float32(-Float($0)) }))
        w.set("tokenizer.ggml.token_type", .array(.int32, (0..<80).map { .int32(Int32($0 % 6)) }))
        w.set("llama.block_count", .uint32(2))
        w.set("llama.rope.freq_base", .float64(10000))
        w.set("test.bools", .array(.bool, [.bool(true), .bool(false)]))
        w.add(GGUFWriter.Tensor(name: "q8", dims: [32, 2], type: .q8_0, data: (0..<68).map { UInt8($0) }))
        w.add(GGUFWriter.Tensor(name: "q4k", dims: [256], type: .q4_K, data: [UInt8](repeating: 7, count: 144)))
        w.add(GGUFWriter.Tensor(name: "h", dims: [3, 1, 1, 2], type: .f16, data: [UInt8](repeating: 0x3C, count: 12)))
        w.addF32("f", dims: [5], values: [1, -2, 3, -4, 5])
        return w
    }

    static let interesting: [UInt64] = [
        0, 1, 2, 3, 4, 5, 8, 9, 12, 13, 31, 32, 33, 63, 64, 65, 255, 256, 4096, 65536, 65537, 0x7FFF_FFFF, 0x8000_0000,
        0xFFFF_FFFF, 0x1_0000_0000, 1 << 40, (1 << 40) + 1, UInt64(Int64.max), UInt64(Int64.max) + 1, UInt64.max - 31, UInt64.max,
    ]

    @Test func mutatedFilesAreRejectedOrFullyReadable() throws {
        var v2 = sampleWriter()
        v2.version = 2
        let seeds = [sampleWriter().encoded(), Self.richWriter().encoded(), v2.encoded()]
        for s in seeds { _ = try GGUFFile(path: try writeBytes(s, "fuzz-seed.gguf")) }  // the seeds themselves are valid
        var g = FuzzGenerator(seed: Self.seed)
        var opened = 0, rejected = 0
        var errorKinds = Set<String>()
        for index in 0..<Self.cases {
            let bytes = Self.mutate(seeds[Int.random(in: 0..<seeds.count, using: &g)], seeds: seeds, &g)
            let path = try writeBytes(bytes, "fuzz.gguf")
            do {
                let file = try GGUFFile(path: path)
                Self.walk(file, case: index)
                opened += 1
            } catch let error as GGUFError {
                rejected += 1
                errorKinds.insert(String(describing: error).prefix(while: { $0 != "(" && $0 != ":" }).description)
                #expect(!error.description.isEmpty)
            } catch {
                Issue.record("seed \(Self.seed) case \(index): \(type(of: error)) thrown, not a GGUFError: \(error)")
            }
        }
        print("fuzz-summary surface=gguf seed=\(Self.seed) cases=\(Self.cases) opened=\(opened) rejected=\(rejected) error-kinds=\(errorKinds.count) crashes=0")
        if Self.cases >= 200 {
            #expect(opened > Self.cases / 50, "mutations too destructive to test the accepting paths")
            #expect(rejected > Self.cases / 5)
            #expect(errorKinds.count >= 5)
        }
    }

    /// Reads everything an accepted file offers, as `inspect` and the model loader would.
    static func walk(_ file: GGUFFile, case index: Int) {
        let m = file.metadata
        for (key, value) in m.entries {
            _ = value.summary
            _ = value.integer
            _ = value.double
            _ = try? m.string(key)
            _ = try? m.integer(key)
            _ = try? m.float(key)
            _ = try? m.optionalBool(key)
            _ = try? m.stringArray(key)
            _ = try? m.floatArray(key)
            _ = try? m.integerArray(key)
        }
        var touched = 0
        for info in file.tensors {
            #expect(info.offset >= 0 && info.byteCount >= 0, "case \(index): \(info.name)")
            #expect(file.dataOffset + info.offset + info.byteCount <= file.fileSize, "case \(index): \(info.name) past the end")
            #expect(info.offset % file.alignment == 0)
            let data = file.tensorData(info)
            #expect(data.count == info.byteCount)
            if let first = data.first, let last = data.last { touched &+= Int(first) &+ Int(last) }
            #expect(file.tensorInfo(info.name) != nil)
        }
        #expect(file.headerBytes.count == file.metadataEnd && file.metadataEnd <= file.dataOffset && file.dataOffset <= file.fileSize)
        _ = touched
    }

    static func mutate(_ seed: [UInt8], seeds: [[UInt8]], _ g: inout FuzzGenerator) -> [UInt8] {
        var b = seed
        // Most of a GGUF file's structure is in its first few hundred bytes; aim there mostly.
        func position(_ g: inout FuzzGenerator) -> Int {
            guard !b.isEmpty else { return 0 }
            return Int.random(in: 0..<4, using: &g) == 0 ? Int.random(in: 0..<b.count, using: &g)
                : Int.random(in: 0..<min(b.count, 600), using: &g)
        }
        for _ in 0..<Int.random(in: 1...4, using: &g) {
            switch Int.random(in: 0..<9, using: &g) {
            case 0 where !b.isEmpty:
                b[position(&g)] ^= 1 << UInt8.random(in: 0...7, using: &g)
            case 1 where !b.isEmpty:
                b[position(&g)] = UInt8.random(in: 0...255, using: &g)
            case 2 where !b.isEmpty, 3 where !b.isEmpty, 4 where !b.isEmpty:  // an interesting u32 or u64, aligned or not
                let width = Bool.random(using: &g) ? 4 : 8
                var at = position(&g)
                if Bool.random(using: &g) { at -= at % width }
                let v = Self.interesting.randomElement(using: &g)!
                for k in 0..<width where at + k < b.count { b[at + k] = UInt8(truncatingIfNeeded: v >> (8 * UInt64(k))) }
            case 5 where !b.isEmpty:
                let a = position(&g)
                b.removeSubrange(a..<min(b.count, a + Int.random(in: 1...24, using: &g)))
            case 6:
                let at = b.isEmpty ? 0 : position(&g)
                b.insert(contentsOf: (0..<Int.random(in: 1...24, using: &g)).map { _ in UInt8.random(in: 0...255, using: &g) }, at: at)
            case 7 where !b.isEmpty:
                b.removeLast(Int.random(in: 1...b.count, using: &g))
            default:  // splice: a prefix of this file with the rest of another
                let other = seeds.randomElement(using: &g)!
                let cut = Int.random(in: 0...min(b.count, other.count), using: &g)
                b = Array(b[..<cut]) + Array(other[cut...])
            }
        }
        return b
    }
}

/// SplitMix64, so every fuzz case is reproducible from its seed.
struct FuzzGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
