#if canImport(Glibc)
import Glibc
#endif

/// Cuts a byte stream into `WireMessage`s. A value type with no I/O: feed it bytes as they
/// arrive (`append`, or `fill` to read straight into its buffer) and call `nextMessage()` until
/// it returns nil. The first error is permanent: the decoder stays failed and the link must be
/// closed, since a stream that lost frame sync cannot be trusted again.
///
/// Memory: bytes are buffered only as they arrive; a header announcing more than `maxFrameSize`
/// is rejected from its 16 bytes, so a hostile length never causes an allocation.
public struct FrameDecoder: Sendable {
    /// Largest accepted frame (header + payload) in bytes.
    public let maxFrameSize: Int

    private var storage: [UInt8] = []
    private var start = 0
    private var end = 0
    private var header: WireFrame.Header?
    private var failure: WireError?

    /// Buffers above this size are released when they become empty.
    private static let retainedCapacity = 16 << 20

    /// - Parameter maxFrameSize: limit on header + payload, at least 16; default 256 MiB.
    public init(maxFrameSize: Int = WireFrame.defaultMaxFrameSize) {
        self.maxFrameSize = max(maxFrameSize, WireFrame.headerSize)
    }

    /// Bytes received but not yet returned as messages.
    public var bufferedByteCount: Int { end - start }
    /// Size of the internal buffer (diagnostics; shows that no oversize frame was allocated).
    public var bufferCapacity: Int { storage.count }
    /// True when no partial frame is buffered (EOF here is a clean close).
    public var isAtFrameBoundary: Bool { end == start }
    /// The error that stopped this decoder, if any.
    public var failedWith: WireError? { failure }

    /// Buffers `bytes` (ignored once the decoder has failed).
    public mutating func append(_ bytes: UnsafeRawBufferPointer) {
        guard failure == nil, !bytes.isEmpty else { return }
        ensureSpace(bytes.count)
        let at = end
        storage.withUnsafeMutableBytes { dst in
            UnsafeMutableRawBufferPointer(rebasing: dst[at ..< at + bytes.count]).copyMemory(from: bytes)
        }
        end += bytes.count
    }

    /// Buffers `bytes` (ignored once the decoder has failed).
    public mutating func append(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { append($0) }
    }

    /// Lets `body` write directly into the decoder's free space (e.g. a `recv`), avoiding a copy.
    /// `body` returns how many bytes it wrote (0 ... buffer count). The space offered is at least
    /// `minimumSpace`, and (up to 16 MiB) what the frame in progress still needs once its header is valid.
    public mutating func fill<E: Error>(
        minimumSpace: Int = 64 << 10, _ body: (UnsafeMutableRawBufferPointer) throws(E) -> Int
    ) throws(E) -> Int {
        var want = max(minimumSpace, 1)
        if let h = header {
            // Reserve the rest of the frame in one go, but at most 16 MiB ahead of the bytes that
            // actually arrived, so a peer announcing a big frame and then stalling costs little.
            want = max(want, min(WireFrame.headerSize + h.payloadLength - (end - start), 16 << 20))
        }
        ensureSpace(want)
        let at = end
        let result: Result<Int, E> = storage.withUnsafeMutableBytes { dst in
            let space = UnsafeMutableRawBufferPointer(rebasing: dst[at ..< dst.count])
            do throws(E) { return .success(try body(space)) } catch { return .failure(error) }
        }
        let n = try result.get()
        if failure == nil { end += max(0, min(n, storage.count - at)) }
        return n
    }

    /// The next complete message, nil if more bytes are needed. Throws on a malformed frame,
    /// and keeps throwing the same error afterwards.
    public mutating func nextMessage() throws(WireError) -> WireMessage? {
        if let failure { throw failure }
        do {
            return try decodeNext()
        } catch {
            failure = error
            throw error
        }
    }

    private mutating func decodeNext() throws(WireError) -> WireMessage? {
        if header == nil {
            guard end - start >= WireFrame.headerSize else { return nil }
            let s = start
            let limit = maxFrameSize
            let parsed: Result<WireFrame.Header, WireError> = storage.withUnsafeBytes { raw in
                do throws(WireError) {
                    return .success(try WireFrame.parseHeader(UnsafeRawBufferPointer(rebasing: raw[s ..< s + WireFrame.headerSize]),
                                                               maxFrameSize: limit))
                } catch {
                    return .failure(error)
                }
            }
            header = try parsed.get()
        }
        guard let h = header, end - start >= WireFrame.headerSize + h.payloadLength else { return nil }
        let payloadStart = start + WireFrame.headerSize
        let decoded: Result<WireMessage, WireError> = storage.withUnsafeBytes { raw in
            do throws(WireError) {
                return .success(try WireCodec.decodePayload(h.type, UnsafeRawBufferPointer(rebasing: raw[payloadStart ..< payloadStart + h.payloadLength])))
            } catch {
                return .failure(error)
            }
        }
        let message = try decoded.get()
        header = nil
        start = payloadStart + h.payloadLength
        if start == end {
            start = 0
            end = 0
            if storage.count > Self.retainedCapacity { storage = [] }
        }
        return message
    }

    /// Makes room for `n` more bytes after `end`, compacting before growing.
    private mutating func ensureSpace(_ n: Int) {
        if storage.count - end >= n { return }
        if start > 0 {
            let live = end - start
            let s = start
            storage.withUnsafeMutableBytes { raw in
                guard let base = raw.baseAddress else { return }
                base.copyMemory(from: base + s, byteCount: live)
            }
            start = 0
            end = live
            if storage.count - end >= n { return }
        }
        let target = max(end + n, min(storage.count * 2, end + n + (64 << 20)))
        let live = end
        // memcpy/memset rather than element-wise appends: this runs per frame in debug builds too.
        storage = storage.withUnsafeBytes { old in
            [UInt8](unsafeUninitializedCapacity: target) { buf, count in
                guard let dst = buf.baseAddress else { count = 0; return }
                if live > 0, let src = old.baseAddress { memcpy(dst, src, live) }
                memset(dst + live, 0, target - live)
                count = target
            }
        }
    }
}
