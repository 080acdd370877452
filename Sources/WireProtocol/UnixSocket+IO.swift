#if canImport(Glibc)
import Glibc
#endif

extension UnixSocket {
    /// Writes all of `bytes`, retrying partial writes and EINTR. A peer that has gone
    /// (EPIPE, ECONNRESET) gives `.closed`.
    public func writeAll(_ bytes: UnsafeRawBufferPointer) throws(WireError) {
        try writeAll([bytes])
    }

    /// Writes all of `bytes`.
    public func writeAll(_ bytes: [UInt8]) throws(WireError) {
        let result: Result<Void, WireError> = bytes.withUnsafeBytes { raw in
            do throws(WireError) { try writeAll([raw]); return .success(()) } catch { return .failure(error) }
        }
        try result.get()
    }

    /// Writes several buffers back to back with `sendmsg` (gathering, like writev), so a frame
    /// header and caller-owned data leave in one system call without being copied together.
    public func writeAll(_ parts: [UnsafeRawBufferPointer]) throws(WireError) {
        var iov: [iovec] = parts.compactMap { p in
            guard let base = p.baseAddress, p.count > 0 else { return nil }
            return iovec(iov_base: UnsafeMutableRawPointer(mutating: base), iov_len: p.count)
        }
        var first = 0
        while first < iov.count {
            let sent: Int = iov.withUnsafeMutableBufferPointer { vec in
                var msg = msghdr()
                msg.msg_iov = vec.baseAddress! + first
                msg.msg_iovlen = min(vec.count - first, 1024)
                return sendmsg(fileDescriptor, &msg, Int32(MSG_NOSIGNAL))
            }
            if sent < 0 {
                let e = errno
                switch e {
                case EINTR: continue
                case EAGAIN, EWOULDBLOCK:
                    _ = try waitFor(Int16(POLLOUT), deadline: nil)
                    continue
                case EPIPE, ECONNRESET: throw .closed
                default: throw .systemCall(operation: "sendmsg", errno: e)
                }
            }
            var n = sent
            while first < iov.count, n >= iov[first].iov_len {
                n -= iov[first].iov_len
                first += 1
            }
            if n > 0 {
                iov[first].iov_base = iov[first].iov_base! + n
                iov[first].iov_len -= n
            }
        }
    }

    /// Reads up to `buffer.count` bytes; returns 0 at end of stream.
    /// - Parameters:
    ///   - spinNanoseconds: first poll the socket without blocking for this long, which saves the
    ///     scheduler wake-up (tens of µs) when data is about to arrive; 0 blocks at once.
    ///   - deadline: `WireClock.monotonicNanoseconds()` value after which `.timedOut` is thrown; nil waits forever.
    public func readSome(into buffer: UnsafeMutableRawBufferPointer, spinNanoseconds: UInt64 = 0,
                         deadline: UInt64? = nil) throws(WireError) -> Int {
        guard let base = buffer.baseAddress, buffer.count > 0 else { return 0 }
        if spinNanoseconds > 0 {
            let spinEnd = WireClock.monotonicNanoseconds() &+ spinNanoseconds
            repeat {
                let n = recv(fileDescriptor, base, buffer.count, Int32(MSG_DONTWAIT))
                if n >= 0 { return n }
                let e = errno
                if e != EAGAIN && e != EWOULDBLOCK && e != EINTR { throw .systemCall(operation: "recv", errno: e) }
                // Let a runnable peer on this core go first: on an oversubscribed machine a pure spin
                // would hold the CPU the sender needs and add the whole spin to every hop.
                sched_yield()
            } while WireClock.monotonicNanoseconds() < spinEnd
        }
        while true {
            if deadline != nil {
                guard try waitFor(Int16(POLLIN), deadline: deadline) else { throw .timedOut }
            }
            let n = recv(fileDescriptor, base, buffer.count, deadline == nil ? 0 : Int32(MSG_DONTWAIT))
            if n >= 0 { return n }
            let e = errno
            if e == EINTR || e == EAGAIN || e == EWOULDBLOCK { continue }
            throw .systemCall(operation: "recv", errno: e)
        }
    }

    /// Waits with poll(2) until the socket is readable (or has EOF/error); false on timeout.
    public func waitReadable(timeout: Duration?) throws(WireError) -> Bool {
        try waitFor(Int16(POLLIN), deadline: timeout.map(WireClock.deadline(after:)))
    }

    /// poll(2) for `events` until `deadline` (nil = forever). Error/hang-up conditions count as ready.
    func waitFor(_ events: Int16, deadline: UInt64?) throws(WireError) -> Bool {
        while true {
            var timeoutMs: Int32 = -1
            if let deadline {
                let now = WireClock.monotonicNanoseconds()
                if now >= deadline {
                    timeoutMs = 0
                } else {
                    timeoutMs = Int32(min((deadline - now + 999_999) / 1_000_000, UInt64(Int32.max)))
                }
            }
            var p = pollfd(fd: fileDescriptor, events: events, revents: 0)
            let rc = poll(&p, 1, timeoutMs)
            if rc > 0 { return true }
            if rc == 0 {
                if timeoutMs == 0 { return false }
                continue // woke early by rounding; the deadline check above decides
            }
            let e = errno
            if e == EINTR { continue }
            throw .systemCall(operation: "poll", errno: e)
        }
    }
}
