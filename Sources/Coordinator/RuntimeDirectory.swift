import Foundation

/// The private directory holding the ring's sockets: mode 0700, named after the coordinator's pid
/// so that a crashed coordinator's leftovers are recognised and removed by the next start.
///
/// The base is often a shared, world-writable folder (/tmp), so cleanup trusts nothing by its name:
/// it removes only a real directory (checked without following links) owned by this user, with no
/// permissions for others, holding this service's marker file, and inside it only what a ring
/// makes (its sockets and the marker) — anything else found there leaves the directory alone.
public struct RuntimeDirectory: Sendable {
    public let path: String

    public enum RuntimeDirectoryError: Error, CustomStringConvertible {
        case create(path: String, reason: String)
        case tooLong(path: String)
        public var description: String {
            switch self {
            case let .create(p, r): return "cannot create runtime directory \(p): \(r)"
            case let .tooLong(p): return "runtime directory \(p) is too long for Unix socket paths (keep it under 90 characters)"
            }
        }
    }

    /// The file every ring directory holds, so that cleanup recognises its own directories.
    static let marker = ".pipeserve-ring"

    private static let counter = Counter()

    /// Creates `<base>/pipeserve-<pid>-<n>` with mode 0700 after removing directories of dead
    /// coordinators (n counts the rings this process has started). A name that is already taken
    /// by something this service did not make is skipped, never removed.
    public static func create(base: String) throws -> RuntimeDirectory {
        try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
        removeStale(base: base)
        for _ in 0..<100 {
            let path = (base as NSString).appendingPathComponent("pipeserve-\(getpid())-\(counter.next())")
            guard path.utf8.count < 90 else { throw RuntimeDirectoryError.tooLong(path: path) }
            if mkdir(path, 0o700) != 0 {
                if errno == EEXIST {
                    _ = removeIfOurs(path)  // ours from an earlier process with this pid, else skipped
                    continue
                }
                throw RuntimeDirectoryError.create(path: path, reason: String(cString: strerror(errno)))
            }
            chmod(path, 0o700)  // umask may have removed bits; never add any for others
            let fd = open((path as NSString).appendingPathComponent(marker), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
            guard fd >= 0 else {
                let reason = String(cString: strerror(errno))
                rmdir(path)
                throw RuntimeDirectoryError.create(path: path, reason: "cannot write its marker: \(reason)")
            }
            close(fd)
            return RuntimeDirectory(path: path)
        }
        throw RuntimeDirectoryError.create(path: base, reason: "100 candidate names were taken")
    }

    /// Default base: $XDG_RUNTIME_DIR (systemd's RuntimeDirectory) or /tmp.
    public static var defaultBase: String {
        ProcessInfo.processInfo.environment["RUNTIME_DIRECTORY"] ?? ProcessInfo.processInfo.environment["XDG_RUNTIME_DIR"] ?? "/tmp"
    }

    /// Socket path of stage `index` (its upstream link listens here).
    public func stageSocket(_ index: Int) -> String { (path as NSString).appendingPathComponent("s\(index).sock") }
    /// Socket the last stage connects to.
    public var coordinatorSocket: String { (path as NSString).appendingPathComponent("c.sock") }

    /// Removes the directory and its sockets.
    public func remove() { _ = Self.removeIfOurs(path) }

    /// Removes `pipeserve-<pid>-<n>` ring directories of coordinators that no longer run.
    static func removeStale(base: String) {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: base) else { return }
        for name in names {
            guard let pid = ringDirectoryPID(name), pid != getpid() else { continue }
            if kill(pid, 0) != 0 && errno == ESRCH {
                _ = removeIfOurs((base as NSString).appendingPathComponent(name))
            }
        }
    }

    /// The pid in a name of the exact form `pipeserve-<pid>-<n>` (digits only), else nil.
    static func ringDirectoryPID(_ name: String) -> Int32? {
        let parts = name.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0] == "pipeserve",
              parts[1].allSatisfy(\.isASCIIDigit), parts[2].allSatisfy(\.isASCIIDigit), !parts[2].isEmpty,
              let pid = Int32(parts[1]), pid > 0 else { return nil }
        return pid
    }

    /// Removes `path` only if it is a ring directory this user made: a directory (not a link to
    /// one), owned by this user, without permissions for others, holding the marker, and holding
    /// nothing but sockets named like a ring's and the marker. Entries are removed through the
    /// opened directory, so a link swapped in meanwhile cannot redirect the removal. Returns
    /// whether it removed the directory.
    static func removeIfOurs(_ path: String) -> Bool {
        let dfd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard dfd >= 0 else { return false }
        defer { close(dfd) }
        var st = stat()
        guard fstat(dfd, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR, st.st_uid == geteuid(), st.st_mode & 0o077 == 0 else { return false }
        var markerStat = stat()
        guard fstatat(dfd, marker, &markerStat, AT_SYMLINK_NOFOLLOW) == 0, (markerStat.st_mode & S_IFMT) == S_IFREG,
              markerStat.st_uid == geteuid() else { return false }
        guard let names = entries(dfd) else { return false }
        var sockets: [String] = []
        for name in names where name != marker {
            var entry = stat()
            guard isRingSocketName(name), fstatat(dfd, name, &entry, AT_SYMLINK_NOFOLLOW) == 0,
                  (entry.st_mode & S_IFMT) == S_IFSOCK else { return false }
            sockets.append(name)
        }
        for name in sockets { unlinkat(dfd, name, 0) }
        unlinkat(dfd, marker, 0)
        return rmdir(path) == 0
    }

    /// `s<digits>.sock` or `c.sock`.
    static func isRingSocketName(_ name: String) -> Bool {
        if name == "c.sock" { return true }
        guard name.hasPrefix("s"), name.hasSuffix(".sock") else { return false }
        let digits = name.dropFirst().dropLast(5)
        return !digits.isEmpty && digits.allSatisfy(\.isASCIIDigit)
    }

    /// The names in an open directory (without "." and "..").
    private static func entries(_ dfd: Int32) -> [String]? {
        let copy = dup(dfd)
        guard copy >= 0, let dir = fdopendir(copy) else { return nil }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: Int(NAME_MAX) + 1) { String(cString: $0) }
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }
}

extension Character {
    fileprivate var isASCIIDigit: Bool { ("0"..."9").contains(self) }
}

/// A process-wide counter (thread-safe).
final class Counter: @unchecked Sendable {
    // Sendable: guarded by `lock`.
    private let lock = NSLock()
    private var value = 0
    func next() -> Int {
        lock.lock(); defer { lock.unlock() }
        value += 1
        return value
    }
}
