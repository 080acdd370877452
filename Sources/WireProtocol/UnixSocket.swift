#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// A connected Unix-domain stream socket in blocking mode, owned by this object (closed on
/// `close()` or deinit). Every descriptor is created with FD_CLOEXEC, and every send uses
/// MSG_NOSIGNAL, so a vanished peer gives an error rather than SIGPIPE even if the process did
/// not ignore it.
///
/// `@unchecked Sendable` because: the descriptor number is immutable; `send`/`recv`/`poll`/
/// `shutdown` on one descriptor are thread-safe system calls; the only mutable state, the
/// closed flag, is guarded by a lock. One thread may send while another receives. Contract the
/// compiler cannot check: call `close()` only when no other thread is inside a call on this
/// socket (wake such a thread with `shutdown()` first), since a closed descriptor number can be
/// reused by the kernel.
public final class UnixSocket: @unchecked Sendable {
    /// The underlying descriptor (for poll sets); do not close it yourself.
    public let fileDescriptor: Int32
    private let lock = NSLock()
    private var isClosed = false

    /// Takes ownership of a connected stream socket descriptor and sets FD_CLOEXEC on it.
    public init(adopting fd: Int32) {
        fileDescriptor = fd
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
    }

    deinit { close() }

    /// A connected pair (socketpair(2)), e.g. for tests or a parent/child link.
    public static func pair() throws(WireError) -> (UnixSocket, UnixSocket) {
        var fds: [Int32] = [-1, -1]
        let rc = socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &fds)
        guard rc == 0 else { throw .systemCall(operation: "socketpair", errno: errno) }
        return (UnixSocket(adopting: fds[0]), UnixSocket(adopting: fds[1]))
    }

    /// Connects to a listening socket at `path`, retrying while the path is missing or refuses
    /// (the peer process may still be starting) until `timeout` has passed.
    public static func connect(path: String, timeout: Duration = .seconds(10),
                               retryInterval: Duration = .milliseconds(10)) throws(WireError) -> UnixSocket {
        var address = try SocketAddress(path: path)
        let deadline = WireClock.deadline(after: timeout)
        var lastErrno: Int32 = 0
        while true {
            let fd = try newStreamSocket()
            let rc = address.withSockaddr { Glibc.connect(fd, $0, $1) }
            if rc == 0 { return UnixSocket(adopting: fd) }
            lastErrno = errno
            _ = Glibc.close(fd)
            switch lastErrno {
            case ENOENT, ECONNREFUSED, EAGAIN, EINTR:
                break
            default:
                throw .systemCall(operation: "connect(\(path))", errno: lastErrno)
            }
            let now = WireClock.monotonicNanoseconds()
            if now >= deadline { throw .connectTimedOut(path: path, lastErrno: lastErrno) }
            let sleepNs = min(WireClock.nanoseconds(retryInterval), deadline - now)
            var ts = timespec(tv_sec: Int(sleepNs / 1_000_000_000), tv_nsec: Int(sleepNs % 1_000_000_000))
            var left = timespec()
            while nanosleep(&ts, &left) != 0 && errno == EINTR { ts = left }
        }
    }

    /// A new AF_UNIX stream socket with SOCK_CLOEXEC.
    static func newStreamSocket() throws(WireError) -> Int32 {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw .systemCall(operation: "socket", errno: errno) }
        return fd
    }

    /// Shuts both directions down: a thread blocked in `readSome` on this socket wakes with EOF
    /// and the peer sees EOF. Safe from any thread; the descriptor stays open until `close()`.
    public func shutdown() {
        lock.lock()
        defer { lock.unlock() }
        if !isClosed { _ = Glibc.shutdown(fileDescriptor, Int32(SHUT_RDWR)) }
    }

    /// Closes the descriptor (idempotent). See the type's note on concurrent use.
    public func close() {
        lock.lock()
        defer { lock.unlock() }
        if !isClosed {
            isClosed = true
            _ = Glibc.close(fileDescriptor)
        }
    }
}

/// A `sockaddr_un` built from a path, refusing paths that do not fit.
struct SocketAddress {
    /// sun_path holds 108 bytes including the terminating NUL.
    static let maxPathBytes = MemoryLayout.size(ofValue: sockaddr_un().sun_path) - 1
    var storage = sockaddr_un()

    init(path: String) throws(WireError) {
        let bytes = Array(path.utf8)
        guard bytes.count <= Self.maxPathBytes else {
            throw .socketPathTooLong(path: path, bytes: bytes.count, limit: Self.maxPathBytes)
        }
        guard !bytes.isEmpty, !bytes.contains(0) else { throw .invalidArgument("socket path \"\(path)\" is empty or contains NUL") }
        storage.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &storage.sun_path) { dst in
            dst.copyBytes(from: bytes)
            dst[bytes.count] = 0
        }
    }

    mutating func withSockaddr<R>(_ body: (UnsafePointer<sockaddr>, socklen_t) -> R) -> R {
        withUnsafePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
    }
}
