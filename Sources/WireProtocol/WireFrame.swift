// The pipeserve wire frame, as it crosses every link of the ring.
//
//  byte  0        4        6        8            12           16
//        +--------+--------+--------+------------+------------+------------------ - -
//        | magic  |version |  type  |  payload   |  header    |  payload
//        | "PSWP" |  u16   |  u16   |  length u32|  check u32 |  (length bytes)
//        +--------+--------+--------+------------+------------+------------------ - -
//
//  - All integers little-endian. Floats are IEEE 754 little-endian bit patterns.
//  - magic: the four bytes 'P' 'S' 'W' 'P' (0x50 0x53 0x57 0x50) so a hex dump or strace shows
//    "PSWP"; read as a little-endian u32 that is 0x5057_5350 (`WireFrame.magic`).
//  - version: `WireFrame.version` (5: batch entries carry an output constraint and sampled
//    tokens a flags byte; 4: batch entries carry prefix-cache blocks to restore and store, and
//    `dropBlocks` exists; 3: batch entries carry a request label; 2: error reports a batch id).
//    A receiver rejects any other value.
//  - type: `WireMessageType` raw value (1...10).
//  - header check: 32-bit FNV-1a of bytes 0..<12, so garbage or a desynchronised stream is
//    rejected after 16 bytes instead of being read as a multi-megabyte length.
//  - The whole frame (16 + length) must not exceed the receiver's `maxFrameSize`; that is
//    checked from the header alone, before a byte of payload is buffered.
//  Payload layouts are drawn at the top of WireCodec+Decoding.swift.

/// Constants and helpers for the fixed 16-byte frame header that precedes every message.
public enum WireFrame {
    /// The magic number as a little-endian u32: the bytes "PSWP" on the wire.
    public static let magic: UInt32 = 0x5057_5350
    /// The protocol version this build speaks; frames and handshakes with another version are rejected.
    public static let version: UInt16 = 5
    /// Size of the frame header in bytes.
    public static let headerSize = 16
    /// Default upper bound on a whole frame (header + payload): 256 MiB.
    public static let defaultMaxFrameSize = 256 << 20

    /// 32-bit FNV-1a over `bytes`; used as the header checksum.
    static func fnv1a32(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        var h: UInt32 = 0x811C_9DC5
        for b in bytes {
            h ^= UInt32(b)
            h = h &* 0x0100_0193
        }
        return h
    }

    /// Writes magic, version, type, length and checksum into the first 16 bytes of `frame`.
    static func writeHeader(into frame: UnsafeMutableRawBufferPointer, type: WireMessageType, payloadLength: UInt32) {
        frame.storeBytes(of: magic.littleEndian, toByteOffset: 0, as: UInt32.self)
        frame.storeBytes(of: version.littleEndian, toByteOffset: 4, as: UInt16.self)
        frame.storeBytes(of: type.rawValue.littleEndian, toByteOffset: 6, as: UInt16.self)
        frame.storeBytes(of: payloadLength.littleEndian, toByteOffset: 8, as: UInt32.self)
        let check = fnv1a32(UnsafeRawBufferPointer(rebasing: frame[0..<12]))
        frame.storeBytes(of: check.littleEndian, toByteOffset: 12, as: UInt32.self)
    }

    /// A validated header.
    struct Header: Equatable {
        var type: WireMessageType
        var payloadLength: Int
    }

    /// Validates the 16 header bytes at the start of `bytes` (which must hold at least 16).
    /// Order: magic, version, checksum, size limit, type — so a peer with a newer protocol gets
    /// "unsupported version" rather than a checksum complaint.
    static func parseHeader(_ bytes: UnsafeRawBufferPointer, maxFrameSize: Int) throws(WireError) -> Header {
        let m = UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: 0, as: UInt32.self))
        guard m == magic else { throw .badMagic(found: m) }
        let v = UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: 4, as: UInt16.self))
        guard v == version else { throw .unsupportedVersion(found: v, supported: version) }
        let stored = UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: 12, as: UInt32.self))
        let computed = fnv1a32(UnsafeRawBufferPointer(rebasing: bytes[0..<12]))
        guard stored == computed else { throw .headerChecksumMismatch(stored: stored, computed: computed) }
        let length = UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: 8, as: UInt32.self))
        let frameSize = UInt64(headerSize) + UInt64(length)
        guard frameSize <= UInt64(maxFrameSize) else {
            throw .frameTooLarge(frameSize: frameSize, limit: maxFrameSize)
        }
        let t = UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: 6, as: UInt16.self))
        guard let type = WireMessageType(rawValue: t) else { throw .unknownMessageType(t) }
        return Header(type: type, payloadLength: Int(length))
    }
}
