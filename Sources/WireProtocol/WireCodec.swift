/// Turns `WireMessage`s into frames. Decoding goes through `FrameDecoder`, which also does the
/// buffering that a byte stream needs.
public enum WireCodec {
    /// Encodes `message` as one complete frame (header + payload), in one exactly sized allocation.
    /// Hidden states must satisfy `values.count == rows * width` and a frame must stay under
    /// 4 GiB (programmer errors: they trap).
    public static func encode(_ message: WireMessage) -> [UInt8] {
        let payloadLength = payloadSize(message)
        precondition(payloadLength <= Int(UInt32.max), "\(message.type) payload of \(payloadLength) bytes cannot be framed")
        return ByteWriter.build(size: WireFrame.headerSize + payloadLength) { w in
            WireFrame.writeHeader(into: w.space(WireFrame.headerSize), type: message.type, payloadLength: UInt32(payloadLength))
            writePayload(message, into: &w)
        }
    }

    /// A frame split into bytes we built and, optionally, raw f32 data the caller owns, to be
    /// written back to back (e.g. with `UnixSocket.writeAll(_:)` taking several buffers: one `sendmsg`).
    public struct SplitFrame {
        /// Frame header and every payload byte before the raw data (all of it when `tail` is nil).
        public var head: [UInt8]
        /// The caller's hidden states as raw little-endian f32 bytes; valid as long as the caller's buffer.
        public var tail: UnsafeRawBufferPointer?
    }

    /// Encodes a `forwardBatch` whose hidden states live in caller memory, without copying them
    /// when `dtype` is f32 (the returned `tail` points into `hiddenStates`). For f16/bf16 the
    /// converted data is placed in `head` and `tail` is nil. `batch.hiddenStates` is ignored.
    public static func encodeForwardBatch(
        _ batch: WireForwardBatch, hiddenStates: UnsafeBufferPointer<Float>,
        rows: Int, width: Int, dtype: WireActivationDType
    ) throws(WireError) -> SplitFrame {
        guard rows >= 0, width >= 0, rows <= Int(UInt32.max), width <= Int(UInt32.max),
              rows.multipliedReportingOverflow(by: width) == (hiddenStates.count, false)
        else {
            throw .invalidArgument("hidden states buffer holds \(hiddenStates.count) floats, shape is \(rows) × \(width)")
        }
        #if _endian(little)
        let zeroCopy = dtype == .f32
        #else
        let zeroCopy = false
        #endif
        var meta = batch
        meta.hiddenStates = nil
        let dataBytes = hiddenStates.count * dtype.byteWidth
        let prefix = forwardBatchPrefixSize(meta)
        let payloadLength = prefix + 10 + dataBytes
        guard payloadLength <= Int(UInt32.max) else {
            throw .frameTooLarge(frameSize: UInt64(payloadLength + WireFrame.headerSize), limit: Int(UInt32.max))
        }
        let headSize = WireFrame.headerSize + prefix + 10 + (zeroCopy ? 0 : dataBytes)
        let head = ByteWriter.build(size: headSize) { w in
            WireFrame.writeHeader(into: w.space(WireFrame.headerSize), type: .forwardBatch, payloadLength: UInt32(payloadLength))
            writeForwardBatchPrefix(meta, into: &w)
            w.u8(1)
            w.u8(dtype.rawValue)
            w.u32(UInt32(rows))
            w.u32(UInt32(width))
            if !zeroCopy { ActivationConversion.encode(hiddenStates, as: dtype, into: w.space(dataBytes)) }
        }
        return SplitFrame(head: head, tail: zeroCopy ? UnsafeRawBufferPointer(hiddenStates) : nil)
    }

    /// Exact payload size of `m` (layouts in WireCodec+Decoding.swift).
    static func payloadSize(_ m: WireMessage) -> Int {
        switch m {
        case .hello: return 37
        case .helloAck: return 8
        case let .forwardBatch(b):
            var n = forwardBatchPrefixSize(b) + 1
            if let h = b.hiddenStates { n += 9 + h.values.count * h.dtype.byteWidth }
            return n
        case let .sampledTokens(s):
            var n = 8 + 4 + 4 + 4 + s.timings.count * WireStageTiming.wireSize
            for t in s.tokens { n += sampledTokenMinSize + 8 * t.topLogprobs.count }
            return n
        case let .freeSequences(ids): return 4 + 8 * ids.count
        case let .dropBlocks(names): return 4 + 8 * names.count
        case .reset, .shutdown: return 0
        case .heartbeat: return 16
        case let .error(e): return 18 + WireErrorReport.truncated(e.message).utf8.count
        }
    }

    /// Size of a forwardBatch payload up to (not including) the hidden-states flag.
    static func forwardBatchPrefixSize(_ b: WireForwardBatch) -> Int {
        var n = 8 + 4 + 4 + 4 + b.timings.count * WireStageTiming.wireSize
        for e in b.entries {
            n += entryMinSize + 4 * e.tokens.count + e.requestLabel.utf8.count
                + WireBlockRef.wireSize * (e.restoreBlocks.count + e.storeBlocks.count) + (e.constraint?.wireSize ?? 0)
        }
        return n
    }
}
