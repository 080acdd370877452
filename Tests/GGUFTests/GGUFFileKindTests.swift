import Foundation
import Testing
@testable import GGUF

/// A model path that is not a regular file gets a clear error at once: opening a FIFO for reading
/// used to wait for a writer for ever, so `serve` and `inspect` hung with no output.
@Suite struct GGUFFileKindTests {
    func scratch(_ name: String) -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("gguf-kind-\(getpid())-\(UUID().uuidString.prefix(8))-\(name)").path
    }

    @Test(.timeLimit(.minutes(1))) func aFIFOIsRefusedWithoutWaiting() throws {
        let path = scratch("model.gguf")
        #expect(mkfifo(path, 0o600) == 0)
        defer { unlink(path) }
        let started = Date()
        do {
            _ = try GGUFFile(path: path)
            Issue.record("opened a FIFO")
        } catch let e as GGUFError {
            #expect(e.description.contains("not a regular file (a FIFO)"), "\(e)")
            #expect(e.description.contains(path))
        }
        #expect(Date().timeIntervalSince(started) < 5)
    }

    @Test func aDirectoryIsRefused() throws {
        let path = scratch("dir.gguf")
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect(throws: GGUFError.cannotOpen(path: path, reason: "not a regular file (a directory)")) { try GGUFFile(path: path) }
    }

    @Test func aCharacterDeviceIsRefused() throws {
        #expect(throws: GGUFError.cannotOpen(path: "/dev/null", reason: "not a regular file (a character device)")) {
            try GGUFFile(path: "/dev/null")
        }
    }

    /// A symbolic link to a regular file is fine (models are often linked into place).
    @Test func aLinkToARegularFileOpens() throws {
        let target = scratch("real.gguf"), link = scratch("link.gguf")
        try Data(sampleWriter().encoded()).write(to: URL(fileURLWithPath: target))
        #expect(symlink(target, link) == 0)
        defer { unlink(link); unlink(target) }
        #expect(try GGUFFile(path: link).fileSize > 0)
    }
}
