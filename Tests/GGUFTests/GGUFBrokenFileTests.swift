import Foundation
import Testing
@testable import GGUF

/// Deliberately broken files (after llama.cpp's test-gguf): each must be rejected with an error
/// naming the problem, never a crash or an allocation of the size the header claims.
@Suite struct GGUFBrokenFileTests {
    func open(_ bytes: [UInt8], _ name: String) throws -> GGUFFile {
        try GGUFFile(path: try writeBytes(bytes, name))
    }

    func le64(_ v: UInt64) -> [UInt8] { withUnsafeBytes(of: v.littleEndian) { Array($0) } }
    func le32(_ v: UInt32) -> [UInt8] { withUnsafeBytes(of: v.littleEndian) { Array($0) } }

    @Test func badMagic() throws {
        var b = sampleWriter().encoded()
        b[0] = UInt8(ascii: "X")
        #expect(throws: GGUFError.badMagic(found: 0x4655_4758)) { try open(b, "magic.gguf") }
    }

    @Test func futureVersion() throws {
        var w = sampleWriter(); w.version = 4
        #expect(throws: GGUFError.unsupportedVersion(4)) { try open(w.encoded(), "v4.gguf") }
        w.version = 1
        #expect(throws: GGUFError.unsupportedVersion(1)) { try open(w.encoded(), "v1.gguf") }
    }

    @Test func truncatedAtEveryHeaderLength() throws {
        let full = sampleWriter().encoded()
        let f = try open(full, "full.gguf")
        // Every cut inside header + metadata + tensor table must throw (never crash).
        for cut in stride(from: 0, to: f.metadataEnd, by: 7) {
            #expect(throws: GGUFError.self) { try open(Array(full[0..<cut]), "cut.gguf") }
        }
    }

    @Test func emptyFile() throws {
        #expect(throws: GGUFError.self) { try open([], "empty.gguf") }
    }

    @Test func duplicateKey() throws {
        var w = sampleWriter()
        w.metadata.append(("test.u8", .uint8(1)))
        #expect(throws: GGUFError.duplicateKey("test.u8")) { try open(w.encoded(), "dupkey.gguf") }
    }

    @Test func duplicateTensor() throws {
        var w = sampleWriter()
        w.addF32("a", dims: [1], values: [0])
        #expect(throws: GGUFError.duplicateTensor("a")) { try open(w.encoded(), "duptensor.gguf") }
    }

    @Test func wrongTypeForKnownKey() throws {
        var w = sampleWriter()
        w.set("general.architecture", .uint32(3))
        #expect(throws: GGUFError.wrongValueType(key: "general.architecture", expected: "string", found: "u32")) {
            try open(w.encoded(), "wrongtype.gguf")
        }
        var w2 = sampleWriter()
        w2.set("general.alignment", .string("32"))
        #expect(throws: GGUFError.wrongValueType(key: "general.alignment", expected: "u32", found: "string")) {
            try open(w2.encoded(), "wrongalign.gguf")
        }
    }

    @Test func badAlignmentValue() throws {
        var w = sampleWriter()
        w.set("general.alignment", .uint32(48))
        #expect(throws: GGUFError.invalidAlignment(48)) { try open(w.encoded(), "align48.gguf") }
    }

    @Test func tensorPastEndOfFile() throws {
        let full = sampleWriter().encoded()
        let f = try open(full, "ok.gguf")
        // Cut the data section: tensor b no longer fits.
        let cut = Array(full[0..<(f.dataOffset + 40)])
        #expect(throws: GGUFError.tensorOutOfBounds(tensor: "b", offset: 32, size: 12, dataSize: 40)) { try open(cut, "short.gguf") }
    }

    @Test func tensorOffsetHuge() throws {
        var w = sampleWriter()
        w.tensors = [w.tensors[0]]
        var b = w.encoded()
        let f = try open(b, "one.gguf")
        // The tensor's offset is the last 8 bytes of the tensor table.
        let at = f.metadataEnd - 8
        b.replaceSubrange(at..<(at + 8), with: le64(UInt64.max - 31))
        #expect(throws: GGUFError.self) { try open(b, "hugeoffset.gguf") }
        b.replaceSubrange(at..<(at + 8), with: le64(8))
        #expect(throws: GGUFError.misalignedTensor(tensor: "a", offset: 8, alignment: 32)) { try open(b, "misaligned.gguf") }
    }

    @Test func unknownTensorType() throws {
        var w = sampleWriter()
        w.tensors = [GGUFWriter.Tensor(name: "x", dims: [4], type: .f32, data: [UInt8](repeating: 0, count: 16))]
        var b = w.encoded()
        let f = try open(b, "x.gguf")
        let at = f.metadataEnd - 12  // type u32 sits before the u64 offset
        b.replaceSubrange(at..<(at + 4), with: le32(77))
        #expect(throws: GGUFError.unknownTensorType(tensor: "x", type: 77)) { try open(b, "unknowntype.gguf") }
    }

    @Test func rowNotMultipleOfBlock() throws {
        var w = sampleWriter()
        w.tensors = [GGUFWriter.Tensor(name: "q", dims: [40], type: .q8_0, data: [UInt8](repeating: 0, count: 34))]
        #expect(throws: GGUFError.self) { try open(w.encoded(), "badrow.gguf") }
    }

    @Test func absurdCounts() throws {
        var b = sampleWriter().encoded()
        b.replaceSubrange(8..<16, with: le64(UInt64.max))  // tensor count
        #expect(throws: GGUFError.self) { try open(b, "absurdtensors.gguf") }
        var c = sampleWriter().encoded()
        c.replaceSubrange(16..<24, with: le64(1 << 60))  // metadata count
        #expect(throws: GGUFError.self) { try open(c, "absurdkv.gguf") }
    }

    @Test func absurdArrayAndStringLengths() throws {
        var w = GGUFWriter()
        w.set("k", .array(.uint64, [.uint64(1)]))
        var b = w.encoded()
        // header 24 + key (8 + 1) + type 4 + element type 4 → element count at 41
        b.replaceSubrange(41..<49, with: le64(1 << 61))
        #expect(throws: GGUFError.absurdCount(what: "element count of k", count: 1 << 61, limit: 1)) { try open(b, "absurdarray.gguf") }
        var s = GGUFWriter()
        s.set("k", .string("abc"))
        var sb = s.encoded()
        sb.replaceSubrange(37..<45, with: le64(1 << 50))
        #expect(throws: GGUFError.self) { try open(sb, "absurdstring.gguf") }
    }

    @Test func unknownValueTypeAndInvalidUTF8() throws {
        var w = GGUFWriter()
        w.set("k", .uint32(1))
        var b = w.encoded()
        b.replaceSubrange(33..<37, with: le32(99))
        #expect(throws: GGUFError.unknownValueType(key: "k", type: 99)) { try open(b, "valtype.gguf") }
        var s = GGUFWriter()
        s.set("k", .string("ab"))
        var sb = s.encoded()
        sb[45] = 0xFF  // first byte of the string value
        #expect(throws: GGUFError.invalidString(what: "value of k", offset: 37)) { try open(sb, "utf8.gguf") }
    }

    @Test func deepNesting() throws {
        var v = GGUFValue.array(.int32, [.int32(1)])
        for _ in 0..<12 { v = .array(.array, [v]) }
        var w = GGUFWriter()
        w.set("deep", v)
        #expect(throws: GGUFError.nestingTooDeep(key: "deep")) { try open(w.encoded(), "deep.gguf") }
    }

    @Test func missingFileAndDirectory() throws {
        #expect(throws: GGUFError.self) { try GGUFFile(path: "/nonexistent/model.gguf") }
        #expect(throws: GGUFError.self) { try GGUFFile(path: "/tmp") }
    }

    /// Random byte overwrites of a valid file: each result either opens and holds together (every
    /// tensor's view is the file's bytes at its offset, the metadata walks with consistent typed
    /// accessors) or is rejected with a `GGUFError` that names a problem the file really has.
    /// Seeded (`PIPESERVE_FUZZ_SEED` overrides; the seed is printed) so a failure reproduces.
    @Test func randomMutationsNeverCrash() throws {
        let seed = ProcessInfo.processInfo.environment["PIPESERVE_FUZZ_SEED"].flatMap { UInt64($0) } ?? 0x4252_4F4B
        print("GGUFBrokenFileTests.randomMutations seed=\(seed)")
        let full = sampleWriter().encoded()
        var rng = FuzzGenerator(seed: seed)
        var opened = 0, rejected = 0
        for i in 0..<300 {
            var b = full
            for _ in 0..<Int.random(in: 1...8, using: &rng) {
                b[Int.random(in: 0..<b.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
            }
            let label = "seed \(seed) mutation \(i)"
            do {
                let file = try open(b, "mut\(i % 4).gguf")
                GGUFFuzzTests.walk(file, bytes: b, case: label)
                opened += 1
            } catch let error as GGUFError {
                rejected += 1
                #expect(!error.description.isEmpty, "\(label)")
                if let problem = GGUFFuzzTests.contextProblem(error, bytes: b) { Issue.record("\(label): \(error): \(problem)") }
            } catch {
                Issue.record("\(label): \(type(of: error)) thrown, not a GGUFError: \(error)")
            }
        }
        print("GGUFBrokenFileTests.randomMutations seed=\(seed) opened=\(opened) rejected=\(rejected)")
        #expect(opened > 0, "no mutation left an openable file: the accepting path went untested")
        #expect(rejected > 0, "no mutation was rejected: the rejecting path went untested")
    }
}
