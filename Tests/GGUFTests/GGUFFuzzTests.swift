import Foundation
import Testing
@testable import GGUF

/// Mutation fuzzing of `GGUFFile`: valid files from `GGUFWriter` (every value type, nested and
/// long deferred arrays, several tensor types and alignments) damaged by bit flips, interesting
/// integers at 4- and 8-byte positions (counts, lengths, types, dims, offsets), insertions,
/// deletions, truncations and splices. Invariants: no trap; a rejected file throws a
/// `GGUFError` whose context is true of the file (`contextProblem`); an accepted file can be
/// walked completely and holds together (every metadata value decoded and rendered, typed
/// accessors agreeing with the values, every tensor's view being the file's bytes at its offset).
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
                Self.walk(file, bytes: bytes, case: "seed \(Self.seed) case \(index)")
                opened += 1
            } catch let error as GGUFError {
                rejected += 1
                errorKinds.insert(String(describing: error).prefix(while: { $0 != "(" && $0 != ":" }).description)
                if let problem = Self.contextProblem(error, bytes: bytes) {
                    Issue.record("seed \(Self.seed) case \(index): \(error): \(problem)")
                }
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

    /// Reads everything an accepted file offers, as `inspect` and the model loader would, and
    /// checks that it holds together: unique keys whose typed accessors agree with the stored
    /// values, arrays whose items have the declared element type, and every tensor's view lying
    /// inside the file at its offset (the view's bytes are the file's bytes there).
    static func walk(_ file: GGUFFile, bytes: [UInt8], case label: String) {
        let m = file.metadata
        let entries = m.entries
        #expect(entries.count == m.count && Set(m.keys).count == m.count, "\(label): duplicate keys accepted")
        for (key, value) in entries {
            _ = value.summary
            #expect(m.type(of: key) == value.type, "\(label): \(key)")
            #expect(m[key].map { identical($0, value) } == true, "\(label): \(key) reads differently twice")
            if case let .array(element, items) = value {
                #expect(items.allSatisfy { $0.type == element }, "\(label): \(key) holds items that are not \(element)")
            }
            // Each accessor succeeds exactly when the stored value is of its kind.
            var string: String? = nil
            if case let .string(s) = value { string = s }
            #expect((try? m.string(key)) == string, "\(label): string(\(key))")
            #expect((try? m.integer(key)) == value.integer, "\(label): integer(\(key))")
            #expect((try? m.float(key)).map { $0.bitPattern } == value.double.map { $0.bitPattern }, "\(label): float(\(key))")
            var bool: Bool? = nil
            if case let .bool(b) = value { bool = b }
            #expect((try? m.optionalBool(key)) == bool, "\(label): optionalBool(\(key))")
            var strings: [String]? = nil
            if case let .array(_, items) = value {
                let s = items.compactMap { v -> String? in if case let .string(s) = v { return s } else { return nil } }
                if s.count == items.count { strings = s }
            }
            #expect((try? m.stringArray(key)) == strings, "\(label): stringArray(\(key))")
            _ = try? m.floatArray(key)
            _ = try? m.integerArray(key)
        }
        #expect(file.headerBytes.count == file.metadataEnd && file.metadataEnd <= file.dataOffset && file.dataOffset <= file.fileSize,
                "\(label): header \(file.metadataEnd), data at \(file.dataOffset), file \(file.fileSize)")
        #expect(file.fileSize == bytes.count && file.headerBytes.elementsEqual(bytes[0..<min(bytes.count, file.metadataEnd)]))
        #expect(Set(file.tensors.map(\.name)).count == file.tensors.count, "\(label): duplicate tensor names accepted")
        for info in file.tensors {
            let start = file.dataOffset + info.offset
            guard info.offset >= 0, info.byteCount >= 0, start + info.byteCount <= bytes.count else {
                Issue.record("\(label): tensor \(info.name) at \(info.offset) (\(info.byteCount) bytes) lies outside the file")
                continue
            }
            #expect(info.offset % file.alignment == 0, "\(label): \(info.name) misaligned")
            #expect(info.type.byteCount(elements: info.elementCount) == info.byteCount, "\(label): \(info.name) size")
            let data = file.tensorData(info)
            #expect(data.count == info.byteCount && data.elementsEqual(bytes[start..<(start + info.byteCount)]),
                    "\(label): \(info.name)'s view is not the file's bytes at \(start)")
            #expect(file.tensorInfo(info.name) == info, "\(label): \(info.name)")
        }
    }

    /// Values equal bit for bit (a NaN in a mutated file equals itself).
    static func identical(_ a: GGUFValue, _ b: GGUFValue) -> Bool {
        switch (a, b) {
        case let (.float32(x), .float32(y)): return x.bitPattern == y.bitPattern
        case let (.float64(x), .float64(y)): return x.bitPattern == y.bitPattern
        case let (.array(t, xs), .array(u, ys)): return t == u && xs.count == ys.count && zip(xs, ys).allSatisfy { identical($0, $1) }
        default: return a == b
        }
    }

    /// Why `error` does not describe `bytes` truthfully, or nil: each case's context must be
    /// what the file holds (the magic and version it names are the file's, a truncation's offset
    /// plus the bytes left is the file's size, a count named absurd exceeds its limit, a
    /// tensor named out of bounds is, a duplicate name occurs twice, …), and opening a regular
    /// file never reports what only a lookup can (a missing key or tensor) or an open failure.
    static func contextProblem(_ error: GGUFError, bytes: [UInt8]) -> String? {
        func le32(_ at: Int) -> UInt32? {
            at + 4 <= bytes.count ? (0..<4).reduce(0) { $0 | UInt32(bytes[at + $1]) << (8 * UInt32($1)) } : nil
        }
        func le64(_ at: Int) -> UInt64? {
            at >= 0 && at + 8 <= bytes.count ? (0..<8).reduce(0) { $0 | UInt64(bytes[at + $1]) << (8 * UInt64($1)) } : nil
        }
        /// How many times `s` occurs in the file as a GGUF string (u64 length + bytes).
        func occurrences(_ s: String) -> Int {
            let needle = withUnsafeBytes(of: UInt64(s.utf8.count).littleEndian) { Array($0) } + Array(s.utf8)
            guard needle.count <= bytes.count else { return 0 }
            return (0...(bytes.count - needle.count)).filter { i in bytes[i..<(i + needle.count)].elementsEqual(needle) }.count
        }
        switch error {
        case .cannotOpen, .missingKey, .tensorNotFound:
            return "opening a regular file cannot fail this way"
        case let .badMagic(found):
            return found != 0x4655_4747 && found == le32(0) ? nil : "the file's magic is \(le32(0).map { String($0, radix: 16) } ?? "absent")"
        case let .unsupportedVersion(v):
            return v != 2 && v != 3 && v == le32(4) ? nil : "the file's version is \(le32(4).map(String.init) ?? "absent")"
        case let .truncated(what, offset, needed, available):
            guard !what.isEmpty, offset >= 0, available >= 0, offset + available == bytes.count else {
                return "offset \(offset) + \(available) bytes left is not the file's \(bytes.count) bytes"
            }
            return needed > available ? nil : "\(needed) bytes needed fit in \(available)"
        case let .absurdCount(what, count, limit):
            return !what.isEmpty && count > limit ? nil : "count \(count) is within its limit \(limit)"
        case let .invalidString(what, offset):
            guard !what.isEmpty, let length = le64(offset), length <= UInt64(bytes.count - offset - 8) else {
                return "no string of the file starts at \(offset)"
            }
            let body = bytes[(offset + 8)..<(offset + 8 + Int(length))]
            return String(validating: body, as: UTF8.self) == nil ? nil : "the string at \(offset) is valid UTF-8"
        case let .unknownValueType(_, type):
            return GGUFValueType(rawValue: type) == nil ? nil : "value type \(type) is known"
        case let .duplicateKey(key):
            return occurrences(key) >= 2 ? nil : "key \(key.debugDescription) occurs once"
        case let .wrongValueType(key, expected, found):
            return !key.isEmpty && expected != found ? nil : "expected and found types agree"
        case let .invalidAlignment(a):
            return a == 0 || a > 65536 || a & (a - 1) != 0 ? nil : "alignment \(a) is valid"
        case let .duplicateTensor(name):
            return occurrences(name) >= 2 ? nil : "tensor \(name.debugDescription) occurs once"
        case let .unknownTensorType(_, type):
            return GGMLType(rawValue: type) == nil ? nil : "tensor type \(type) is known"
        case let .invalidTensorShape(_, dims, reason):
            let product = dims.reduce(UInt64(1)) { p, d in p.multipliedReportingOverflow(by: d).overflow ? .max : p * d }
            let bad = dims.isEmpty || dims.contains { $0 == 0 || $0 > UInt64(Int32.max) } || product > 1 << 40
                || reason.hasPrefix("row length")
            return bad && !reason.isEmpty ? nil : "shape \(dims) is valid (\(reason))"
        case let .misalignedTensor(_, offset, alignment):
            return alignment > 0 && offset % UInt64(alignment) != 0 ? nil : "offset \(offset) is a multiple of \(alignment)"
        case let .tensorOutOfBounds(_, offset, size, dataSize):
            guard dataSize >= 0, dataSize < bytes.count, size >= 0 else { return "data section of \(dataSize) bytes" }
            return offset > UInt64(dataSize) || UInt64(size) > UInt64(dataSize) - offset ? nil : "the tensor fits"
        case let .nestingTooDeep(key):
            return occurrences(key) >= 1 ? nil : "no key \(key.debugDescription) in the file"
        }
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
