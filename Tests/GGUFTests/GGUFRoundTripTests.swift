import Foundation
import Testing
@testable import GGUF

func temporaryPath(_ name: String) -> String {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pipeserve-tests-\(getpid())")
    try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    return dir.appendingPathComponent(name).path
}

func writeBytes(_ bytes: [UInt8], _ name: String) throws -> String {
    let path = temporaryPath(name)
    try Data(bytes).write(to: URL(fileURLWithPath: path))
    return path
}

func sampleWriter() -> GGUFWriter {
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

@Suite struct GGUFRoundTripTests {
    @Test func everyValueTypeRoundTrips() throws {
        let w = sampleWriter()
        let path = try writeBytes(w.encoded(), "roundtrip.gguf")
        let f = try GGUFFile(path: path)
        #expect(f.version == 3)
        #expect(f.metadata.entries.count == w.metadata.count)
        for (k, v) in w.metadata { #expect(f.metadata[k] == v, "key \(k)") }
        #expect(try f.metadata.string("general.architecture") == "llama")
        #expect(try f.metadata.integer("test.u32") == 4_000_000_000)
        #expect(try f.metadata.float("test.f32") == 1.5)
        #expect(f.tensors.map(\.name) == ["a", "b"])
        let a = try f.tensorData("a")
        #expect(a.count == 32)
        #expect(a.loadUnaligned(fromByteOffset: 28, as: Float.self) == 8)
        #expect(f.tensorInfo("a")?.rowCount == 2)
        #expect(f.tensorInfo("b")?.offset == 32)
        #expect(f.dataOffset % 32 == 0)
    }

    @Test func customAlignmentIsHonoured() throws {
        var w = sampleWriter()
        w.alignment = 64
        w.set("general.alignment", .uint32(64))
        let f = try GGUFFile(path: try writeBytes(w.encoded(), "align64.gguf"))
        #expect(f.alignment == 64)
        #expect(f.tensorInfo("b")?.offset == 64)
        #expect(f.dataOffset % 64 == 0)
    }

    @Test func version2IsAccepted() throws {
        var w = sampleWriter()
        w.version = 2
        let f = try GGUFFile(path: try writeBytes(w.encoded(), "v2.gguf"))
        #expect(f.version == 2)
    }

    @Test func typedAccessorsNameTheKey() throws {
        let f = try GGUFFile(path: try writeBytes(sampleWriter().encoded(), "typed.gguf"))
        #expect(throws: GGUFError.missingKey("llama.block_count")) { try f.metadata.integer("llama.block_count") }
        #expect(throws: GGUFError.wrongValueType(key: "test.str", expected: "integer", found: "string")) {
            try f.metadata.integer("test.str")
        }
        #expect(throws: GGUFError.tensorNotFound("zzz")) { try f.tensorData("zzz") }
    }
}

@Suite struct GGUFLongArrayTests {
    @Test func longArraysRoundTripAndAreValidatedAtOpen() throws {
        var w = GGUFWriter()
        let tokens = (0..<5000).map { GGUFValue.string("tok\($0)▁é") }
        w.set("tokenizer.ggml.tokens", .array(.string, tokens))
        w.set("tokenizer.ggml.scores", .array(.float32, (0..<5000).map { .float32(Float($0)) }))
        let bytes = w.encoded()
        let f = try GGUFFile(path: try writeBytes(bytes, "long.gguf"))
        #expect(try f.metadata.stringArray("tokenizer.ggml.tokens") == (0..<5000).map { "tok\($0)▁é" })
        #expect(try f.metadata.floatArray("tokenizer.ggml.scores")?.last == 4999)
        #expect(f.metadata.type(of: "tokenizer.ggml.tokens") == .array)
        // An invalid byte inside the 4000th token is rejected when the file is opened.
        var bad = bytes
        let needle = Array("tok3999".utf8)
        let at = (0..<(bad.count - needle.count)).first { Array(bad[$0..<($0 + needle.count)]) == needle }!
        bad[at + 1] = 0xFF
        #expect(throws: GGUFError.self) { try GGUFFile(path: try writeBytes(bad, "longbad.gguf")) }
    }
}
