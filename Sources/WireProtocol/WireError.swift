#if canImport(Glibc)
import Glibc
#endif

/// Everything that can go wrong on a pipeserve link: malformed frames (each case says what and
/// where) and socket failures. After any frame error the link is to be closed.
public enum WireError: Error, CustomStringConvertible, Equatable, Sendable {
    // MARK: Frame header
    /// The first four bytes of a frame were not "PSWP".
    case badMagic(found: UInt32)
    /// The frame announced a protocol version this build does not speak.
    case unsupportedVersion(found: UInt16, supported: UInt16)
    /// The header's FNV-1a checksum of bytes 0..<12 did not match.
    case headerChecksumMismatch(stored: UInt32, computed: UInt32)
    /// Header + payload length exceeds the receiver's (or sender's) frame size limit.
    case frameTooLarge(frameSize: UInt64, limit: Int)
    /// The type field is not a known `WireMessageType`.
    case unknownMessageType(UInt16)

    // MARK: Payload
    /// The payload ended while reading `field` at payload offset `offset`.
    case truncatedPayload(type: WireMessageType, field: String, offset: Int, needed: Int, available: Int)
    /// A count inside the payload claims more elements than the remaining bytes can hold.
    case countTooLarge(type: WireMessageType, field: String, count: UInt64, offset: Int, bytesLeft: Int)
    /// A string field is not valid UTF-8.
    case invalidUTF8(type: WireMessageType, field: String, offset: Int)
    /// A string field is longer than its limit.
    case stringTooLong(type: WireMessageType, field: String, length: Int, limit: Int)
    /// A field has a value outside its domain (unknown dtype, logits mode, role or flag; a layer range whose end precedes its start).
    case invalidValue(type: WireMessageType, field: String, value: Int64, offset: Int)
    /// The payload was fully decoded but `count` bytes remained.
    case trailingBytes(type: WireMessageType, count: Int)

    // MARK: Sockets and connections
    /// The peer closed the connection cleanly at a frame boundary (EOF).
    case closed
    /// The peer closed the connection in the middle of a frame.
    case closedMidFrame(bufferedBytes: Int)
    /// A receive or accept did not complete within its timeout.
    case timedOut
    /// A system call failed; `errno` is the raw value.
    case systemCall(operation: String, errno: Int32)
    /// A socket path does not fit `sockaddr_un.sun_path` (107 bytes plus NUL).
    case socketPathTooLong(path: String, bytes: Int, limit: Int)
    /// Something that is not a socket exists where a socket should be created.
    case pathIsNotASocket(path: String)
    /// `connect` kept failing until its deadline.
    case connectTimedOut(path: String, lastErrno: Int32)
    /// A peer of another uid connected and was turned away.
    case peerRejected(pid: Int32, uid: UInt32, expectedUID: UInt32)
    /// The caller passed an inconsistent value (e.g. hidden-state buffer size ≠ rows × width).
    case invalidArgument(String)

    public var description: String {
        switch self {
        case let .badMagic(found):
            return "bad frame magic 0x\(String(found, radix: 16)) (expected 0x\(String(WireFrame.magic, radix: 16)), bytes \"PSWP\")"
        case let .unsupportedVersion(found, supported):
            return "unsupported wire protocol version \(found) (this build speaks \(supported))"
        case let .headerChecksumMismatch(stored, computed):
            return "frame header checksum mismatch: header says 0x\(String(stored, radix: 16)), bytes give 0x\(String(computed, radix: 16))"
        case let .frameTooLarge(size, limit):
            return "frame of \(size) bytes exceeds the limit of \(limit) bytes"
        case let .unknownMessageType(t):
            return "unknown wire message type \(t)"
        case let .truncatedPayload(type, field, offset, needed, available):
            return "truncated \(type) payload reading \(field) at offset \(offset): needs \(needed) bytes, \(available) left"
        case let .countTooLarge(type, field, count, offset, left):
            return "\(type) payload: \(field) count \(count) at offset \(offset) exceeds the \(left) bytes left"
        case let .invalidUTF8(type, field, offset):
            return "\(type) payload: \(field) at offset \(offset) is not valid UTF-8"
        case let .stringTooLong(type, field, length, limit):
            return "\(type) payload: \(field) is \(length) bytes, limit \(limit)"
        case let .invalidValue(type, field, value, offset):
            return "\(type) payload: invalid \(field) value \(value) at offset \(offset)"
        case let .trailingBytes(type, count):
            return "\(type) payload has \(count) unexpected trailing bytes"
        case .closed:
            return "connection closed by peer"
        case let .closedMidFrame(n):
            return "connection closed by peer in the middle of a frame (\(n) bytes buffered)"
        case .timedOut:
            return "timed out"
        case let .systemCall(op, e):
            return "\(op) failed: \(Self.errnoText(e)) (errno \(e))"
        case let .socketPathTooLong(path, bytes, limit):
            return "socket path is \(bytes) bytes, longer than the \(limit)-byte limit of sun_path: \(path) (use a shorter runtime directory)"
        case let .pathIsNotASocket(path):
            return "\(path) exists and is not a socket; refusing to replace it"
        case let .connectTimedOut(path, e):
            return "could not connect to \(path) before the deadline: \(Self.errnoText(e)) (errno \(e))"
        case let .peerRejected(pid, uid, expected):
            return "rejected peer pid \(pid) with uid \(uid) (only uid \(expected) may connect)"
        case let .invalidArgument(what):
            return "invalid argument: \(what)"
        }
    }

    static func errnoText(_ e: Int32) -> String {
        #if canImport(Glibc)
        if let p = strerror(e) { return String(cString: p) }
        #endif
        return "error"
    }
}
