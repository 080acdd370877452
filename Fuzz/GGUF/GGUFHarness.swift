// libFuzzer harness for the GGUF reader: every input is written to a temporary file and opened
// with `GGUFFile(path:)` (the reader maps files; it has no in-memory entry point). A file it
// accepts is walked completely, as `inspect`, the model loader and the tokenizer would: every
// metadata value decoded, rendered and read through each typed accessor; every tensor's table
// entry checked against the mapping and every byte of its view read; and, when the file carries
// `tokenizer.ggml.*`, a `Tokenizer` built from it and used. Built and run by
// scripts/fuzz-libfuzzer; not part of the normal build (see the end of Package.swift).
//
// Invariants (a violation aborts, which libFuzzer reports as a crash): no trap; a rejected file
// throws a `GGUFError` (or, for the tokenizer, its own error type) with a description; an
// accepted file's tensors lie inside the file, aligned, with views of exactly their byte count;
// an accepted file written again by `GGUFWriter` reopens and reads back the same, bit for bit.

#if canImport(Glibc)
import Glibc
#endif
import GGUF
import Tokenization
import FuzzSupport

nonisolated(unsafe) var scratchPath = ""

@_cdecl("LLVMFuzzerInitialize")
public func fuzzerInitialize(_ argc: UnsafeMutablePointer<Int32>,
                             _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>) -> Int32 {
    writeSeedsIfAsked(GGUFSeeds.all)
    // A file per input: tmpfs (/dev/shm) when there is one, since a disk file system journals
    // every rewrite; TMPDIR wins when set.
    var info = stat()
    let shm = stat("/dev/shm", &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR && access("/dev/shm", W_OK) == 0
    let dir = getenv("TMPDIR").map { String(cString: $0) } ?? (shm ? "/dev/shm" : "/tmp")
    scratchPath = "\(dir)/pipeserve-fuzz-gguf-\(getpid()).gguf"
    return 0
}

@main enum FuzzMain {
    static func main() {
        runFuzzer { data, size in
            guard let data else { return 0 }
            return fuzzerTestOneInput(data, size)
        }
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzerTestOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    writeScratch(UnsafeRawBufferPointer(start: data, count: size))
    defer { unlink(scratchPath) }  // the mapping outlives the name; nothing is left behind
    let file: GGUFFile
    do {
        file = try GGUFFile(path: scratchPath)
    } catch let error as GGUFError {
        require(!error.description.isEmpty, "a GGUFError with an empty description")
        return 0
    } catch {
        require(false, "\(type(of: error)) thrown, not a GGUFError: \(error)")
        return 0
    }
    walk(file)
    rewrite(file)
    buildTokenizer(file)
    return 0
}

/// Reads everything an accepted file offers.
func walk(_ file: GGUFFile) {
    let m = file.metadata
    require(m.keys.count == m.count, "metadata keys and count disagree")
    for (key, value) in m.entries {
        _ = value.summary
        _ = value.integer
        _ = value.double
        require(m.type(of: key) == value.type, "type(of: \(key)) disagrees with its value")
        _ = try? m.string(key)
        _ = try? m.optionalString(key)
        _ = try? m.integer(key)
        _ = try? m.optionalInteger(key)
        _ = try? m.float(key)
        _ = try? m.optionalFloat(key)
        _ = try? m.optionalBool(key)
        _ = try? m.stringArray(key)
        _ = try? m.floatArray(key)
        _ = try? m.integerArray(key)
    }
    require(file.alignment > 0 && file.alignment & (file.alignment - 1) == 0, "alignment \(file.alignment)")
    require(file.headerBytes.count == file.metadataEnd && file.metadataEnd <= file.dataOffset
            && file.dataOffset <= file.fileSize, "header \(file.metadataEnd), data \(file.dataOffset), file \(file.fileSize)")
    var sum: UInt8 = 0
    for info in file.tensors {
        require(info.offset >= 0 && info.byteCount >= 0, "\(info.name): offset \(info.offset), \(info.byteCount) bytes")
        require(file.dataOffset + info.offset + info.byteCount <= file.fileSize, "\(info.name) ends past the file")
        require(info.offset % file.alignment == 0, "\(info.name) misaligned at \(info.offset)")
        require(info.elementCount >= 1 && info.rowCount >= 1 && info.rowBytes >= 0, "\(info.name) shape \(info.dims)")
        let data = file.tensorData(info)
        require(data.count == info.byteCount, "\(info.name): view of \(data.count) bytes, table says \(info.byteCount)")
        for b in data { sum &+= b }
        require(file.tensorInfo(info.name) != nil, "\(info.name) not found by name")
        do {
            require(try file.tensorData(info.name).count == info.byteCount, "\(info.name): view by name differs")
        } catch {
            require(false, "tensorData(\(info.name)) threw \(error)")
        }
        file.releaseResidentPages(info)
    }
    do {
        _ = try file.tensorData("no such tensor \(sum)")
        require(file.tensorInfo("no such tensor \(sum)") != nil, "a missing tensor was found")
    } catch {
        require(error as? GGUFError != nil, "tensorData of a missing name threw \(error)")
    }
}

/// Reader and writer agree: an accepted file written again by `GGUFWriter` reopens, and gives
/// the same writer encoding (bit for bit, so NaN floats compare too).
func rewrite(_ file: GGUFFile) {
    let first = writer(for: file).encoded()
    let path = scratchPath + ".again"
    writeScratch(first, to: path)
    defer { unlink(path) }
    do {
        let again = try GGUFFile(path: path)
        require(writer(for: again).encoded() == first, "a rewritten file reads back differently")
        require(again.tensors.map(\.name) == file.tensors.map(\.name), "tensor order changed on rewrite")
    } catch {
        require(false, "a rewritten file is rejected: \(error)")
    }
}

func writer(for file: GGUFFile) -> GGUFWriter {
    var w = GGUFWriter()
    w.version = file.version
    w.alignment = file.alignment
    w.metadata = file.metadata.entries.map { ($0.key, $0.value) }
    w.tensors = file.tensors.map {
        GGUFWriter.Tensor(name: $0.name, dims: $0.dims, type: $0.type, data: Array(file.tensorData($0)))
    }
    return w
}

/// Builds a tokenizer when the file has one, and drives it a little.
func buildTokenizer(_ file: GGUFFile) {
    guard file.metadata["tokenizer.ggml.model"] != nil else { return }
    let tokenizer: Tokenizer
    do {
        tokenizer = try Tokenizer(gguf: file)
    } catch {
        require(!String(describing: error).isEmpty, "a tokenizer error with an empty description")
        return
    }
    let n = tokenizer.vocabularySize
    for parse in [false, true] {
        let ids = tokenizer.encode("Hello wörld <s>\n\n 12345 🙂 <start_of_turn>", addSpecial: true, parseSpecial: parse)
        require(ids.allSatisfy { $0 >= 0 && Int($0) < n }, "encode gave an id outside the vocabulary of \(n)")
    }
    let probe: [Int32] = Array(0 ..< Int32(min(n, 300))) + [-1, Int32(n), Int32.max, Int32.min]
    _ = tokenizer.decode(probe, renderSpecial: true)
    var stream = StreamingDetokenizer(tokenizer: tokenizer)
    for id in probe { _ = stream.append(id) }
    _ = stream.flush()
    for id in probe { _ = tokenizer.tokenText(id); _ = tokenizer.isEndOfGeneration(id) }
}

/// Replaces the scratch file's contents with `bytes`.
func writeScratch(_ bytes: UnsafeRawBufferPointer, to path: String = scratchPath) {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
    require(fd >= 0, "cannot create \(path): errno \(errno)")
    var done = 0
    while done < bytes.count {
        let n = write(fd, bytes.baseAddress! + done, bytes.count - done)
        require(n > 0, "cannot write \(path): errno \(errno)")
        done += n
    }
    close(fd)
}

func writeScratch(_ bytes: [UInt8], to path: String) {
    bytes.withUnsafeBytes { writeScratch($0, to: path) }
}
