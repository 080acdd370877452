import Foundation

/// The private directory holding the ring's sockets: mode 0700, named after the coordinator's pid
/// so that a crashed coordinator's leftovers are recognised and removed by the next start.
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

    private static let counter = Counter()

    /// Creates `<base>/pipeserve-<pid>-<n>` with mode 0700 after removing directories of dead
    /// coordinators (n counts the rings this process has started).
    public static func create(base: String) throws -> RuntimeDirectory {
        try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
        removeStale(base: base)
        let path = (base as NSString).appendingPathComponent("pipeserve-\(getpid())-\(counter.next())")
        guard path.utf8.count < 90 else { throw RuntimeDirectoryError.tooLong(path: path) }
        try? FileManager.default.removeItem(atPath: path)
        guard mkdir(path, 0o700) == 0 else { throw RuntimeDirectoryError.create(path: path, reason: String(cString: strerror(errno))) }
        chmod(path, 0o700)  // umask may have removed bits; never add any for others
        return RuntimeDirectory(path: path)
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
    public func remove() { try? FileManager.default.removeItem(atPath: path) }

    /// Deletes `pipeserve-<pid>-<n>` directories whose process no longer exists.
    static func removeStale(base: String) {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: base) else { return }
        for name in names where name.hasPrefix("pipeserve-") {
            let pidPart = name.dropFirst("pipeserve-".count).split(separator: "-").first ?? ""
            guard let pid = Int32(pidPart), pid != getpid() else { continue }
            if kill(pid, 0) != 0 && errno == ESRCH {
                try? FileManager.default.removeItem(atPath: (base as NSString).appendingPathComponent(name))
            }
        }
    }
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
