import Foundation

/// One end of a link: a socket plus a `FrameDecoder`, with blocking `send` and `receive` meant
/// for dedicated threads (not the Swift concurrency pool).
///
/// `@unchecked Sendable` because all mutable state is behind locks: `send*` calls are
/// serialised by one lock (so frames from two threads never interleave), `receive` by another
/// (it alone touches the decoder); `UnixSocket` is itself thread-safe for one sender and one
/// receiver. So one thread may send while another receives.
public final class WireConnection: @unchecked Sendable {
    /// The connected socket (for `peerCredentials()`, `shutdown()`, poll sets).
    public let socket: UnixSocket
    /// Largest frame accepted or sent (header + payload).
    public let maxFrameSize: Int
    /// Non-blocking spin before each blocking read, in ns (see `UnixSocket.readSome`).
    public let spinNanoseconds: UInt64

    private let sendLock = NSLock()
    private let receiveLock = NSLock()
    private var decoder: FrameDecoder

    /// - Parameters:
    ///   - maxFrameSize: applies to both directions; default 256 MiB.
    ///   - spin: how long to poll without blocking before sleeping in `receive`; e.g.
    ///     `.microseconds(50)` on a hot ring, zero (default) for idle or control links.
    public init(socket: UnixSocket, maxFrameSize: Int = WireFrame.defaultMaxFrameSize, spin: Duration = .zero) {
        self.socket = socket
        self.maxFrameSize = max(maxFrameSize, WireFrame.headerSize)
        self.spinNanoseconds = WireClock.nanoseconds(spin)
        self.decoder = FrameDecoder(maxFrameSize: self.maxFrameSize)
    }

    /// Encodes and writes one message. Throws `.frameTooLarge` (nothing written) if it exceeds
    /// `maxFrameSize`, `.closed` if the peer has gone.
    public func send(_ message: WireMessage) throws(WireError) {
        let frame = WireCodec.encode(message)
        guard frame.count <= maxFrameSize else {
            throw .frameTooLarge(frameSize: UInt64(frame.count), limit: maxFrameSize)
        }
        sendLock.lock()
        defer { sendLock.unlock() }
        try socket.writeAll(frame)
    }

    /// Sends a `forwardBatch` whose hidden states are in caller memory; f32 data goes from
    /// `hiddenStates` to the socket without an intermediate copy. `batch.hiddenStates` is ignored.
    public func sendForwardBatch(_ batch: WireForwardBatch, hiddenStates: UnsafeBufferPointer<Float>,
                                 rows: Int, width: Int, dtype: WireActivationDType) throws(WireError) {
        let frame = try WireCodec.encodeForwardBatch(batch, hiddenStates: hiddenStates, rows: rows, width: width, dtype: dtype)
        let size = frame.head.count + (frame.tail?.count ?? 0)
        guard size <= maxFrameSize else { throw .frameTooLarge(frameSize: UInt64(size), limit: maxFrameSize) }
        sendLock.lock()
        defer { sendLock.unlock() }
        let result: Result<Void, WireError> = frame.head.withUnsafeBytes { head in
            do throws(WireError) {
                if let tail = frame.tail { try socket.writeAll([head, tail]) } else { try socket.writeAll([head]) }
                return .success(())
            } catch {
                return .failure(error)
            }
        }
        try result.get()
    }

    /// Blocks until a whole message has arrived.
    /// - Parameter timeout: nil waits forever; otherwise `.timedOut` after that long without a
    ///   complete message. A timeout loses nothing: a partly received frame stays buffered.
    /// - Throws: `.closed` on EOF at a frame boundary, `.closedMidFrame` inside a frame, a frame
    ///   error for malformed input (the connection then stays failed), or a system error.
    public func receive(timeout: Duration? = nil) throws(WireError) -> WireMessage {
        receiveLock.lock()
        defer { receiveLock.unlock() }
        let deadline = timeout.map(WireClock.deadline(after:))
        let spin = spinNanoseconds
        let socket = self.socket
        while true {
            if let m = try decoder.nextMessage() { return m }
            let n = try decoder.fill { (buffer) throws(WireError) -> Int in
                try socket.readSome(into: buffer, spinNanoseconds: spin, deadline: deadline)
            }
            if n == 0 {
                if decoder.isAtFrameBoundary { throw .closed }
                throw .closedMidFrame(bufferedBytes: decoder.bufferedByteCount)
            }
        }
    }

    /// Wakes a thread blocked in `receive` (it sees EOF) and tells the peer we are done.
    public func shutdown() { socket.shutdown() }

    /// Closes the socket; see `UnixSocket.close()`.
    public func close() { socket.close() }
}
