#if canImport(Glibc)
import Glibc
#endif

/// The process at the other end of a Unix-domain socket, as the kernel recorded it at connect time.
public struct PeerCredentials: Sendable, Equatable {
    public var pid: Int32
    public var uid: UInt32
    public var gid: UInt32

    public init(pid: Int32, uid: UInt32, gid: UInt32) {
        self.pid = pid
        self.uid = uid
        self.gid = gid
    }
}

extension UnixSocket {
    /// The peer's pid, uid and gid via SO_PEERCRED. (`struct ucred` is hidden from Swift's Glibc
    /// without _GNU_SOURCE, so it is read as its three 32-bit fields: pid, uid, gid.)
    public func peerCredentials() throws(WireError) -> PeerCredentials {
        var raw: (Int32, Int32, Int32) = (0, 0, 0)
        var length = socklen_t(MemoryLayout<(Int32, Int32, Int32)>.size)  // 12
        let rc = getsockopt(fileDescriptor, SOL_SOCKET, SO_PEERCRED, &raw, &length)
        guard rc == 0 else { throw .systemCall(operation: "getsockopt(SO_PEERCRED)", errno: errno) }
        guard length == 12 else { throw .systemCall(operation: "getsockopt(SO_PEERCRED) returned \(length) bytes", errno: EINVAL) }
        return PeerCredentials(pid: raw.0, uid: UInt32(bitPattern: raw.1), gid: UInt32(bitPattern: raw.2))
    }
}
