import WireProtocol

/// The seed corpus: one valid frame of every message type, a few streams of several frames, each
/// behind control bytes that pick a feeding mode (see WireHarness.swift). Payloads are written
/// byte by byte after the layouts drawn at the top of WireCodec+Decoding.swift, so the seeds
/// depend on the wire format only, not on the message types' Swift API.
enum WireSeeds {
    /// Little-endian payload builder.
    struct Payload {
        var bytes: [UInt8] = []
        mutating func u8(_ v: UInt8) { bytes.append(v) }
        mutating func u16(_ v: UInt16) { put(v) }
        mutating func u32(_ v: UInt32) { put(v) }
        mutating func u64(_ v: UInt64) { put(v) }
        mutating func i32(_ v: Int32) { put(v) }
        mutating func f32(_ v: Float) { put(v.bitPattern) }
        private mutating func put<T: FixedWidthInteger>(_ v: T) {
            withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) }
        }
    }

    /// Header (magic, version, type, length, FNV-1a check of bytes 0..<12) + payload.
    static func frame(_ type: UInt16, _ p: Payload) -> [UInt8] {
        var h = Payload()
        h.u32(WireFrame.magic)
        h.u16(WireFrame.version)
        h.u16(type)
        h.u32(UInt32(p.bytes.count))
        var check: UInt32 = 0x811C_9DC5
        for b in h.bytes { check = (check ^ UInt32(b)) &* 0x0100_0193 }
        h.u32(check)
        return h.bytes + p.bytes
    }

    static func timing(_ p: inout Payload, stage: UInt16) {
        p.u16(stage); p.u64(12); p.u64(.max); p.u64(123_456)
    }

    static var hello: [UInt8] {
        var p = Payload()
        p.u16(WireFrame.version); p.u64(253_000_000); p.u64(0xDEAD_BEEF_0123_4567)
        p.u16(4); p.i32(2); p.u32(9); p.u32(14); p.u8(2); p.i32(1)
        return frame(1, p)
    }

    static var helloAck: [UInt8] {
        var p = Payload()
        p.i32(-1); p.i32(4242)
        return frame(2, p)
    }

    /// `entries` entries of three tokens, one timing, hidden states of `rows` × `width` in `dtype` (0 f32, 1 f16, 2 bf16).
    static func forwardBatch(entries: Int, rows: UInt32, width: UInt32, dtype: UInt8) -> [UInt8] {
        var p = Payload()
        p.u64(42); p.u32(3); p.u32(UInt32(entries))
        for i in 0 ..< entries {
            p.u64(UInt64(1000 + i)); p.u32(UInt32(i * 3)); p.u32(1); p.u8(UInt8(i % 3))
            p.u32(3); p.i32(Int32(i)); p.i32(-1); p.i32(.max)
            p.f32(0.7); p.i32(40); p.f32(0.95); p.f32(0.05); p.f32(1.1); p.f32(0.25); p.f32(-0.5); p.i32(64)
            p.u64(0xFFFF_FFFF_FFFF_FFF0); p.u32(UInt32(i)); p.u8(20)
            let label = i == 0 ? Array("cmpl-seed".utf8) : []  // request label (protocol 3)
            p.u32(UInt32(label.count)); for b in label { p.u8(b) }
        }
        p.u32(1)
        timing(&p, stage: 0)
        if rows == 0 {
            p.u8(0)
        } else {
            p.u8(1); p.u8(dtype); p.u32(rows); p.u32(width)
            for k in 0 ..< Int(rows * width) {
                if dtype == 0 { p.f32(Float(k) * 0.25 - 3) } else { p.u16(UInt16(0x3C00 + k)) }
            }
        }
        return frame(3, p)
    }

    static var sampledTokens: [UInt8] {
        var p = Payload()
        p.u64(7); p.u32(1); p.u32(2)
        p.u64(5); p.i32(506); p.f32(.nan); p.u8(0)
        p.u64(6); p.i32(0); p.f32(-0.25); p.u8(3)
        for k in 0 ..< 3 { p.i32(Int32(k)); p.f32(-Float(k)) }
        p.u32(1)
        timing(&p, stage: 1)
        return frame(4, p)
    }

    static var freeSequences: [UInt8] {
        var p = Payload()
        p.u32(2); p.u64(1); p.u64(.max)
        return frame(5, p)
    }

    static var heartbeat: [UInt8] {
        var p = Payload()
        p.u64(17); p.u64(123_456_789_012)
        return frame(7, p)
    }

    static var error: [UInt8] {
        var p = Payload()
        let message = Array("model hash differs: é🙂".utf8)
        p.i32(-1); p.u16(3); p.u64(42); p.u32(UInt32(message.count))
        p.bytes += message
        return frame(9, p)
    }

    static var frames: [[UInt8]] {
        [
            hello, helloAck,
            forwardBatch(entries: 2, rows: 2, width: 4, dtype: 0),
            forwardBatch(entries: 1, rows: 1, width: 3, dtype: 1),
            forwardBatch(entries: 1, rows: 1, width: 2, dtype: 2),
            forwardBatch(entries: 0, rows: 0, width: 0, dtype: 0),
            sampledTokens, freeSequences, frame(6, Payload()), heartbeat, frame(8, Payload()), error,
        ]
    }

    static var all: [[UInt8]] {
        let frames = frames
        var seeds = frames.map { [0, 0] + $0 }
        seeds.append([0b0_1000, 0] + frames[2] + frames[6])       // re-stamped, whole
        seeds.append([0b1_1001, 7] + frames[0] + frames[1])       // fill, chunked, clamped
        seeds.append([0, 200] + frames.joined())                  // every type back to back, chunked
        seeds.append([0b0100, 0] + frames[11])                    // a 64-byte limit
        return seeds
    }
}
