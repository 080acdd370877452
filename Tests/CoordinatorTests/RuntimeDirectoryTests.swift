import Foundation
import Testing
@testable import Coordinator

/// Cleanup of dead coordinators' ring directories runs in a shared folder (/tmp) and often as
/// root: it must remove only directories this service made, never another user's files.
@Suite struct RuntimeDirectoryTests {
    /// A pid above any kernel's pid_max: no such process exists.
    static let deadPID = "2147483000"

    func scratchBase() throws -> String {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("rdtest-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
        return base
    }

    func exists(_ path: String) -> Bool {
        var st = stat()
        return lstat(path, &st) == 0
    }

    @Test func aDeadCoordinatorsRingIsRemoved() throws {
        let base = try scratchBase()
        defer { try? FileManager.default.removeItem(atPath: base) }
        let ring = "\(base)/pipeserve-\(Self.deadPID)-1"
        #expect(mkdir(ring, 0o700) == 0)
        #expect(FileManager.default.createFile(atPath: "\(ring)/\(RuntimeDirectory.marker)", contents: nil))
        RuntimeDirectory.removeStale(base: base)
        #expect(!exists(ring))
    }

    @Test func whatThisServiceDidNotMakeIsLeftAlone() throws {
        let base = try scratchBase()
        defer { try? FileManager.default.removeItem(atPath: base) }
        let dead = Self.deadPID
        // The case: a plain file named like a ring directory (and one named exactly so).
        let userFile = "\(base)/pipeserve-\(dead)-userdata.txt"
        let exactFile = "\(base)/pipeserve-\(dead)-2"
        for path in [userFile, exactFile] { #expect(FileManager.default.createFile(atPath: path, contents: Data("mine".utf8))) }
        // A directory without the marker.
        let unmarked = "\(base)/pipeserve-\(dead)-3"
        #expect(mkdir(unmarked, 0o700) == 0)
        // A marked directory that holds something a ring never makes.
        let extra = "\(base)/pipeserve-\(dead)-4"
        #expect(mkdir(extra, 0o700) == 0)
        #expect(FileManager.default.createFile(atPath: "\(extra)/\(RuntimeDirectory.marker)", contents: nil))
        #expect(FileManager.default.createFile(atPath: "\(extra)/precious.txt", contents: Data("x".utf8)))
        // A link (named like a ring) to a marked directory elsewhere.
        let target = "\(base)/elsewhere"
        #expect(mkdir(target, 0o700) == 0)
        #expect(FileManager.default.createFile(atPath: "\(target)/\(RuntimeDirectory.marker)", contents: nil))
        let link = "\(base)/pipeserve-\(dead)-5"
        #expect(symlink(target, link) == 0)
        // A marked directory others can read.
        let open = "\(base)/pipeserve-\(dead)-6"
        #expect(mkdir(open, 0o755) == 0)
        chmod(open, 0o755)
        #expect(FileManager.default.createFile(atPath: "\(open)/\(RuntimeDirectory.marker)", contents: nil))

        RuntimeDirectory.removeStale(base: base)
        for path in [userFile, exactFile, unmarked, extra, "\(extra)/precious.txt", link, target, "\(target)/\(RuntimeDirectory.marker)", open] {
            #expect(exists(path), "\(path) was removed")
        }
    }

    /// As root: a marked directory owned by another user (uid 65534) is not ours.
    @Test(.enabled(if: geteuid() == 0, "needs root to chown"))
    func anotherUsersDirectoryIsLeftAlone() throws {
        let base = try scratchBase()
        defer { try? FileManager.default.removeItem(atPath: base) }
        let theirs = "\(base)/pipeserve-\(Self.deadPID)-7"
        #expect(mkdir(theirs, 0o700) == 0)
        #expect(FileManager.default.createFile(atPath: "\(theirs)/\(RuntimeDirectory.marker)", contents: nil))
        #expect(chown("\(theirs)/\(RuntimeDirectory.marker)", 65534, 65534) == 0)
        #expect(chown(theirs, 65534, 65534) == 0)
        RuntimeDirectory.removeStale(base: base)
        #expect(exists(theirs))
    }

    /// A name the coordinator wants that is already taken by something else is skipped.
    @Test func createSkipsATakenName() throws {
        let base = try scratchBase()
        defer { try? FileManager.default.removeItem(atPath: base) }
        let first = try RuntimeDirectory.create(base: base)
        // Plant files at the next few names this process would use.
        let parts = first.path.split(separator: "-")
        let next = Int(parts.last ?? "") ?? 0
        var planted: [String] = []
        for n in (next + 1)...(next + 3) {
            let path = "\(base)/pipeserve-\(getpid())-\(n)"
            #expect(FileManager.default.createFile(atPath: path, contents: Data("planted".utf8)))
            planted.append(path)
        }
        let second = try RuntimeDirectory.create(base: base)
        #expect(!planted.contains(second.path))
        for path in planted { #expect(FileManager.default.contents(atPath: path) == Data("planted".utf8)) }
        #expect(exists("\(second.path)/\(RuntimeDirectory.marker)"))
        second.remove()
        first.remove()
        #expect(!exists(second.path) && !exists(first.path))
    }

    @Test func ringDirectoryNamesAreExact() {
        #expect(RuntimeDirectory.ringDirectoryPID("pipeserve-123-4") == 123)
        #expect(RuntimeDirectory.ringDirectoryPID("pipeserve-123-userdata.txt") == nil)
        #expect(RuntimeDirectory.ringDirectoryPID("pipeserve-123-4-5") == nil)
        #expect(RuntimeDirectory.ringDirectoryPID("pipeserve--4") == nil)
        #expect(RuntimeDirectory.ringDirectoryPID("pipeserve-+12-4") == nil)
    }
}
