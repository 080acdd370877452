// libFuzzer harness for the wire protocol: `FrameDecoder` (framing, buffering, `append` and
// `fill`) and every payload decoder in WireCodec+Decoding.swift. Built and run by
// scripts/fuzz-libfuzzer; not part of the normal build (see the end of Package.swift).
//
// Input layout (everything after the two control bytes is the byte stream):
//
//   byte 0   bit 0      feed through `fill` instead of `append`
//            bits 1-2   frame size limit: 1 MiB, 4096, 64, 16 bytes
//            bit 3      re-stamp every header's checksum before feeding (so mutated headers
//                       reach the payload decoders instead of dying on the checksum)
//            bit 4      with bit 3: also clamp each header's length to the bytes that follow
//   byte 1   chunking:  0 = all at once, else the seed of the chunk sizes (1 to 300 bytes)
//   byte 2…  the stream
//
// Invariants (a violation aborts, which libFuzzer reports as a crash): no trap; a failure is a
// `WireError` that every later call repeats; each decoded message re-encodes to a frame that
// decodes back to the same bytes; the buffer never grows past what was fed and the limit allow.

#if canImport(Glibc)
import Glibc
#endif
import WireProtocol
import FuzzSupport

@_cdecl("LLVMFuzzerInitialize")
public func fuzzerInitialize(_ argc: UnsafeMutablePointer<Int32>,
                             _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>) -> Int32 {
    // The seed frames are written by hand after the documented layouts; one that no longer
    // decodes is still an input, but the layout in WireSeeds.swift wants updating.
    for frame in WireSeeds.frames {
        var decoder = FrameDecoder()
        decoder.append(frame)
        do {
            if try decoder.nextMessage() == nil || !decoder.isAtFrameBoundary {
                printError("warning: seed frame of type \(frame[6]) is incomplete; update Fuzz/WireProtocol/WireSeeds.swift")
            }
        } catch {
            printError("warning: seed frame of type \(frame[6]) does not decode (\(error)); update Fuzz/WireProtocol/WireSeeds.swift")
        }
    }
    writeSeedsIfAsked(WireSeeds.all)
    return 0
}

@main enum FuzzMain {
    static func main() {
        runFuzzer { data, size in
            guard let data else { return 0 }
            return fuzzerTestOneInput(data, size)
        }
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzerTestOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let input = UnsafeBufferPointer(start: data, count: size)
    guard input.count >= 2 else { return 0 }
    let control = input[0]
    var stream = Array(input[2...])
    if control & 0b1000 != 0 { restampHeaders(&stream, clampLengths: control & 0b1_0000 != 0) }
    let limit = [1 << 20, 4096, 64, WireFrame.headerSize][Int((control >> 1) & 3)]
    runDecoder(stream, limit: limit, useFill: control & 1 != 0, chunkSeed: input[1])
    return 0
}

/// Feeds `stream` to a fresh decoder in chunks and checks the invariants.
func runDecoder(_ stream: [UInt8], limit: Int, useFill: Bool, chunkSeed: UInt8) {
    var decoder = FrameDecoder(maxFrameSize: limit)
    var chunks = ChunkSizes(seed: chunkSeed)
    var fed = 0
    var decoded: [WireMessage] = []
    var failure: WireError?
    feeding: while fed < stream.count {
        let n = min(stream.count - fed, chunks.next())
        if useFill {
            let offered = fed
            let written = decoder.fill(minimumSpace: n) { (space: UnsafeMutableRawBufferPointer) -> Int in
                let k = min(n, space.count)
                stream.withUnsafeBytes { src in
                    UnsafeMutableRawBufferPointer(rebasing: space[0 ..< k])
                        .copyMemory(from: UnsafeRawBufferPointer(rebasing: src[offered ..< offered + k]))
                }
                return k
            }
            require(written > 0, "fill offered no space for \(n) bytes")
            fed += written
        } else {
            stream[fed ..< fed + n].withUnsafeBytes { decoder.append($0) }
            fed += n
        }
        do {
            while let m = try decoder.nextMessage() { decoded.append(m) }
        } catch {
            failure = error
            break feeding
        }
    }
    require(decoder.bufferCapacity <= 2 * (stream.count + (16 << 20) + (64 << 10)),
            "buffer grew to \(decoder.bufferCapacity) for \(stream.count) bytes fed")
    if let failure {
        require(!failure.description.isEmpty, "an error with an empty description")
        require(decoder.failedWith == failure, "failedWith is \(String(describing: decoder.failedWith)), not \(failure)")
        do {
            _ = try decoder.nextMessage()
            require(false, "decoder did not stay failed after \(failure)")
        } catch {
            require(error == failure, "a later call threw \(error), not \(failure)")
        }
    }
    for m in decoded {
        let once = WireCodec.encode(m)
        var again = FrameDecoder()
        again.append(once)
        do {
            guard let back = try again.nextMessage() else {
                require(false, "\(m.type) re-encoded to an incomplete frame")
                return
            }
            require(WireCodec.encode(back) == once, "\(m.type) re-encodes differently")
            require(again.isAtFrameBoundary, "\(m.type) re-encoding left bytes over")
        } catch {
            require(false, "\(m.type) does not re-decode: \(error)")
        }
    }
}

/// Rewrites the checksum (and, if asked, the length) of every header that the lengths reach.
func restampHeaders(_ stream: inout [UInt8], clampLengths: Bool) {
    var at = 0
    while at + WireFrame.headerSize <= stream.count {
        var length = Int(stream[at + 8]) | Int(stream[at + 9]) << 8 | Int(stream[at + 10]) << 16 | Int(stream[at + 11]) << 24
        let left = stream.count - at - WireFrame.headerSize
        if clampLengths, length > left {
            length = left
            for k in 0 ..< 4 { stream[at + 8 + k] = UInt8(truncatingIfNeeded: length >> (8 * k)) }
        }
        var h: UInt32 = 0x811C_9DC5
        for b in stream[at ..< at + 12] { h = (h ^ UInt32(b)) &* 0x0100_0193 }
        for k in 0 ..< 4 { stream[at + 12 + k] = UInt8(truncatingIfNeeded: h >> (8 * UInt32(k))) }
        at += WireFrame.headerSize + length
    }
}

/// Chunk sizes from a one-byte seed: 0 feeds everything at once.
struct ChunkSizes {
    var state: UInt32
    let whole: Bool
    init(seed: UInt8) {
        state = UInt32(seed) &* 0x9E37_79B9 | 1
        whole = seed == 0
    }
    mutating func next() -> Int {
        guard !whole else { return Int.max / 2 }
        state ^= state << 13
        state ^= state >> 17
        state ^= state << 5
        switch state % 4 {
        case 0: return 1
        case 1: return Int(state >> 8) % 17 + 1
        case 2: return Int(state >> 8) % 300 + 1
        default: return Int.max / 2
        }
    }
}
