#if canImport(Glibc)
import Glibc
#endif
import Foundation

private typealias Accept4Function = @convention(c) (Int32, UnsafeMutablePointer<sockaddr>?, UnsafeMutablePointer<socklen_t>?, Int32) -> Int32

/// accept4(2) is hidden from Swift's Glibc (no _GNU_SOURCE); look it up at run time so accepted
/// descriptors get SOCK_CLOEXEC atomically. nil → accept + fcntl (a tiny window in which a
/// concurrent fork+exec could inherit the descriptor).
private let accept4Function: Accept4Function? = {
    guard let handle = dlopen(nil, RTLD_NOW), let symbol = dlsym(handle, "accept4") else { return nil }
    return unsafeBitCast(symbol, to: Accept4Function.self)
}()

/// A listening Unix-domain stream socket bound to a filesystem path. `close()` (or deinit)
/// closes it and removes the socket file if it is still the one this listener created.
///
/// `@unchecked Sendable` for the same reasons as `UnixSocket`: immutable descriptor and path,
/// a lock around the closed flag; `close()` must not race with a thread inside `accept`.
public final class UnixListener: @unchecked Sendable {
    /// The bound path.
    public let path: String
    /// The listening descriptor.
    public let fileDescriptor: Int32
    private let inode: (dev: UInt64, ino: UInt64)
    private let lock = NSLock()
    private var isClosed = false

    /// Binds and listens on `path`. A stale socket file left at `path` is removed first; any
    /// other kind of file there is an error. Paths over 107 bytes are refused.
    public init(path: String, backlog: Int32 = 16) throws(WireError) {
        var address = try SocketAddress(path: path)
        var st = stat()
        if lstat(path, &st) == 0 {
            guard (st.st_mode & S_IFMT) == S_IFSOCK else { throw .pathIsNotASocket(path: path) }
            guard unlink(path) == 0 || errno == ENOENT else { throw .systemCall(operation: "unlink(\(path))", errno: errno) }
        }
        let fd = try UnixSocket.newStreamSocket()
        guard address.withSockaddr({ bind(fd, $0, $1) }) == 0 else {
            let e = errno
            _ = Glibc.close(fd)
            throw .systemCall(operation: "bind(\(path))", errno: e)
        }
        guard listen(fd, backlog) == 0 else {
            let e = errno
            _ = Glibc.close(fd)
            _ = unlink(path)
            throw .systemCall(operation: "listen(\(path))", errno: e)
        }
        var bound = stat()
        _ = lstat(path, &bound)
        self.path = path
        self.fileDescriptor = fd
        self.inode = (UInt64(bound.st_dev), UInt64(bound.st_ino))
    }

    deinit { close() }

    /// Accepts one connection; `timeout` nil waits forever, else `.timedOut`.
    public func accept(timeout: Duration? = nil) throws(WireError) -> UnixSocket {
        let deadline = timeout.map(WireClock.deadline(after:))
        while true {
            if deadline != nil {
                guard try waitAcceptable(deadline: deadline) else { throw .timedOut }
            }
            let fd: Int32
            if let accept4Function {
                fd = accept4Function(fileDescriptor, nil, nil, Int32(SOCK_CLOEXEC.rawValue))
            } else {
                fd = Glibc.accept(fileDescriptor, nil, nil)
            }
            if fd >= 0 { return UnixSocket(adopting: fd) }  // adopting sets FD_CLOEXEC again (harmless)
            let e = errno
            switch e {
            case EINTR, EAGAIN, ECONNABORTED: continue
            default: throw .systemCall(operation: "accept(\(path))", errno: e)
            }
        }
    }

    /// Accepts connections until one comes from a process of `uid` (default: our own), closing
    /// the others after reporting each to `onReject`. The timeout covers the whole wait.
    public func acceptRejectingOtherUIDs(
        uid: UInt32 = getuid(), timeout: Duration? = nil,
        onReject: (WireError) -> Void = { _ in }
    ) throws(WireError) -> UnixSocket {
        let deadline = timeout.map(WireClock.deadline(after:))
        while true {
            var remaining: Duration?
            if let deadline {
                let now = WireClock.monotonicNanoseconds()
                guard now < deadline else { throw .timedOut }
                remaining = .nanoseconds(Int64(min(deadline - now, UInt64(Int64.max))))
            }
            let socket = try accept(timeout: remaining)
            let peer: PeerCredentials
            do {
                peer = try socket.peerCredentials()
            } catch {
                socket.close()
                onReject(error)
                continue
            }
            if peer.uid == uid { return socket }
            socket.close()
            onReject(.peerRejected(pid: peer.pid, uid: peer.uid, expectedUID: uid))
        }
    }

    private func waitAcceptable(deadline: UInt64?) throws(WireError) -> Bool {
        while true {
            var timeoutMs: Int32 = -1
            if let deadline {
                let now = WireClock.monotonicNanoseconds()
                timeoutMs = now >= deadline ? 0 : Int32(min((deadline - now + 999_999) / 1_000_000, UInt64(Int32.max)))
            }
            var p = pollfd(fd: fileDescriptor, events: Int16(POLLIN), revents: 0)
            let rc = poll(&p, 1, timeoutMs)
            if rc > 0 { return true }
            if rc == 0 { if timeoutMs == 0 { return false } else { continue } }
            if errno != EINTR { throw .systemCall(operation: "poll(\(path))", errno: errno) }
        }
    }

    /// Stops listening and removes the socket file (if it is still ours). Idempotent.
    public func close() {
        lock.lock()
        defer { lock.unlock() }
        guard !isClosed else { return }
        isClosed = true
        var st = stat()
        if lstat(path, &st) == 0, UInt64(st.st_dev) == inode.dev, UInt64(st.st_ino) == inode.ino {
            _ = unlink(path)
        }
        _ = Glibc.close(fileDescriptor)
    }
}
