#if canImport(Glibc)
import Glibc
#endif

/// systemd's notify protocol (sd_notify(3)) written with plain socket calls: one datagram of
/// newline-separated `KEY=VALUE` assignments to the AF_UNIX socket named by $NOTIFY_SOCKET
/// (a path, or an abstract name when it starts with "@"). No libsystemd.
public struct SystemdNotifier: Sendable {
    /// The socket address from $NOTIFY_SOCKET.
    public let socketPath: String
    /// Half of WatchdogSec when the unit enables the watchdog for this process (WATCHDOG_USEC,
    /// WATCHDOG_PID), i.e. how often to send WATCHDOG=1; nil when the watchdog is off.
    public let watchdogIntervalMicroseconds: UInt64?

    public enum NotifyError: Error, CustomStringConvertible, Equatable {
        case pathTooLong(String)
        case socket(errno: Int32)
        case send(errno: Int32)
        public var description: String {
            switch self {
            case let .pathTooLong(p): return "NOTIFY_SOCKET \(p) is longer than a Unix socket path can be"
            case let .socket(e): return "cannot create the notify socket: \(String(cString: strerror(e)))"
            case let .send(e): return "cannot notify systemd: \(String(cString: strerror(e)))"
            }
        }
    }

    /// The notifier for this process, or nil when not started by systemd with Type=notify.
    public init?(environment: [String: String]) {
        guard let path = environment["NOTIFY_SOCKET"], !path.isEmpty, path.hasPrefix("/") || path.hasPrefix("@") else { return nil }
        socketPath = path
        if let usec = environment["WATCHDOG_USEC"].flatMap(UInt64.init), usec > 0,
           environment["WATCHDOG_PID"].flatMap(Int32.init).map({ $0 == getpid() }) ?? true {
            watchdogIntervalMicroseconds = usec / 2
        } else {
            watchdogIntervalMicroseconds = nil
        }
    }

    /// Sends one notification, e.g. "READY=1\nSTATUS=serving".
    public func notify(_ assignments: String) throws {
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw NotifyError.socket(errno: errno) }
        defer { close(fd) }
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        var bytes = Array(socketPath.utf8)
        let abstract = bytes.first == UInt8(ascii: "@")
        if abstract { bytes[0] = 0 }
        let capacity = MemoryLayout.size(ofValue: addr.sun_path)
        guard bytes.count < capacity else { throw NotifyError.pathTooLong(socketPath) }
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in
            for (i, b) in bytes.enumerated() { raw[i] = b }
        }
        // Abstract names are exactly as long as given; paths are NUL-terminated.
        let length = socklen_t(MemoryLayout<sa_family_t>.size + bytes.count + (abstract ? 0 : 1))
        let message = Array(assignments.utf8)
        let sent = message.withUnsafeBytes { buf in
            withUnsafePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                    sendto(fd, buf.baseAddress, buf.count, Int32(MSG_NOSIGNAL), sa, length)
                }
            }
        }
        guard sent == message.count else { throw NotifyError.send(errno: errno) }
    }

    /// READY=1 with a status line.
    public func ready(status: String) throws { try notify("READY=1\nSTATUS=\(Self.clean(status))") }
    /// A STATUS= line (loading, recovering, …).
    public func status(_ text: String) throws { try notify("STATUS=\(Self.clean(text))") }
    /// RELOADING=1 with the CLOCK_MONOTONIC time systemd wants with it; send READY=1 when done.
    public func reloading(status: String) throws {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        let usec = UInt64(ts.tv_sec) * 1_000_000 + UInt64(ts.tv_nsec) / 1000
        try notify("RELOADING=1\nMONOTONIC_USEC=\(usec)\nSTATUS=\(Self.clean(status))")
    }
    /// STOPPING=1 (draining).
    public func stopping(status: String) throws { try notify("STOPPING=1\nSTATUS=\(Self.clean(status))") }
    /// WATCHDOG=1 keep-alive.
    public func watchdog() throws { try notify("WATCHDOG=1") }

    /// Status text on one line.
    static func clean(_ s: String) -> String { String(s.map { $0 == "\n" ? " " : $0 }) }
}
