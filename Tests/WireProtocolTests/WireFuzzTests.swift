import Foundation
import Testing
import WireProtocol

/// Structure-aware fuzzing of `FrameDecoder` and the payload decoders: random bytes, random
/// payloads behind valid headers, and mutated valid frames (bit flips, interesting integers at
/// field boundaries, insertions, deletions, splices, rewritten lengths with a fresh checksum),
/// fed as a stream in random chunk sizes through `append` and `fill`.
///
/// Invariants: no trap; every failure is a `WireError` whose context is consistent
/// (`contextProblem`), repeated by every later call; a decoded
/// message re-encodes to a frame that decodes to the same encoding (so the decoder never returns
/// what the encoder cannot represent); unmutated streams decode exactly; the buffer never grows
/// past what the bytes fed and the frame limit justify.
///
/// `PIPESERVE_FUZZ_CASES` (default 400) and `PIPESERVE_FUZZ_SEED` (default fixed) scale and vary
/// the run; `scripts/fuzz` runs 10 000+ cases. A failing case prints its seed and case index.
@Suite struct WireFuzzTests {
    static let cases = ProcessInfo.processInfo.environment["PIPESERVE_FUZZ_CASES"].flatMap { Int($0) } ?? 400
    static let seed = ProcessInfo.processInfo.environment["PIPESERVE_FUZZ_SEED"].flatMap { UInt64($0) } ?? 0x5157_5350

    enum Outcome { case messages, error, needMore }

    struct Tally: CustomStringConvertible {
        var cases = 0, decodedMessages = 0, errors = 0, needMore = 0, exactRoundTrips = 0
        var description: String {
            "cases=\(cases) errors=\(errors) need-more=\(needMore) messages=\(decodedMessages) exact-round-trips=\(exactRoundTrips) crashes=0"
        }
    }

    @Test func mutatedAndRandomFramesNeverCrash() throws {
        var g = SeededGenerator(seed: Self.seed)
        let seeds = Samples.messages.map { WireCodec.encode($0) }
            + [WireCodec.encode(.forwardBatch(Samples.batch(entries: 2, rows: 2, width: 4, dtype: .f16))),
               WireCodec.encode(.forwardBatch(Samples.batch(entries: 1, rows: 1, width: 6, dtype: .bf16)))]
        var tally = Tally()
        for index in 0 ..< Self.cases {
            let strategy = Int.random(in: 0 ..< 20, using: &g)
            var stream: [UInt8] = []
            var pristine = false
            switch strategy {
            case 0:  // pure random bytes, sometimes starting with a plausible magic
                stream = randomBytes(Int.random(in: 0 ... 400, using: &g), &g)
                if Bool.random(using: &g), stream.count >= 4 { stream.replaceSubrange(0 ..< 4, with: Array("PSWP".utf8)) }
            case 1, 2:  // valid header, random payload biased to small values (plausible counts)
                let payload = (0 ..< Int.random(in: 0 ... 300, using: &g)).map { _ in
                    Int.random(in: 0 ..< 3, using: &g) == 0 ? UInt8.random(in: 0 ... 255, using: &g) : UInt8.random(in: 0 ... 4, using: &g)
                }
                stream = Samples.frame(type: UInt16.random(in: 0 ... 10, using: &g), payload: payload)
            case 3:  // unmutated frames back to back: must decode exactly
                pristine = true
                for _ in 0 ..< Int.random(in: 1 ... 4, using: &g) { stream += seeds.randomElement(using: &g)! }
            default:  // one to three frames, one of them mutated
                let count = Int.random(in: 1 ... 3, using: &g)
                let victim = Int.random(in: 0 ..< count, using: &g)
                for k in 0 ..< count {
                    var f = seeds.randomElement(using: &g)!
                    if k == victim { f = mutateFrame(f, seeds: seeds, &g) }
                    stream += f
                }
            }
            let outcome = run(stream, case: index, pristine: pristine, tally: &tally, &g)
            tally.cases += 1
            switch outcome {
            case .messages: break
            case .error: tally.errors += 1
            case .needMore: tally.needMore += 1
            }
        }
        print("fuzz-summary surface=wire seed=\(Self.seed) \(tally)")
        // The mix must reach every outcome, or the fuzzer is not exploring.
        if Self.cases >= 200 {
            #expect(tally.errors > Self.cases / 10)
            #expect(tally.decodedMessages > Self.cases / 10)
            #expect(tally.exactRoundTrips > 0)
        }
    }

    /// Why a decoder's `failure` is not a truthful frame or payload error, or nil: a bad magic,
    /// version or checksum differs from the expected one, a frame called too large exceeds this
    /// decoder's limit, a truncation needed more than was left, and so on; a decoder fed bytes
    /// never reports a socket or caller error.
    static func contextProblem(_ failure: WireError, limit: Int) -> String? {
        switch failure {
        case let .badMagic(found): return found != WireFrame.magic ? nil : "the magic is right"
        case let .unsupportedVersion(found, supported):
            return found != supported && supported == WireFrame.version ? nil : "version \(found) is this build's"
        case let .headerChecksumMismatch(stored, computed): return stored != computed ? nil : "the checksums agree"
        case let .frameTooLarge(size, frameLimit):
            return frameLimit == limit && size > UInt64(limit) ? nil : "\(size) bytes fit this decoder's limit \(limit)"
        case let .unknownMessageType(t): return WireMessageType(rawValue: t) == nil ? nil : "type \(t) is known"
        case let .truncatedPayload(_, field, offset, needed, available):
            return !field.isEmpty && offset >= 0 && available >= 0 && needed > available ? nil : "\(needed) bytes fit in \(available)"
        case let .countTooLarge(_, field, _, offset, left):
            return !field.isEmpty && offset >= 0 && left >= 0 ? nil : "names no field or position"
        case let .invalidUTF8(_, field, offset): return !field.isEmpty && offset >= 0 ? nil : "names no field or position"
        case let .stringTooLong(_, field, length, stringLimit):
            return !field.isEmpty && length > stringLimit ? nil : "\(length) bytes are within \(stringLimit)"
        case let .invalidValue(_, field, _, offset): return !field.isEmpty && offset >= 0 ? nil : "names no field or position"
        case let .trailingBytes(_, count): return count > 0 ? nil : "no bytes trail"
        case .closed, .closedMidFrame, .timedOut, .systemCall, .socketPathTooLong, .pathIsNotASocket, .connectTimedOut,
             .peerRejected, .invalidArgument:
            return "a decoder fed bytes cannot fail this way"
        }
    }

    /// Feeds `stream` to a decoder in random chunks and checks the invariants.
    func run(_ stream: [UInt8], case index: Int, pristine: Bool, tally: inout Tally, _ g: inout SeededGenerator) -> Outcome {
        let limit = [WireFrame.headerSize, 64, 4096, 1 << 20][Int.random(in: 0 ..< 4, using: &g) == 0 ? Int.random(in: 0 ..< 3, using: &g) : 3]
        var d = FrameDecoder(maxFrameSize: limit)
        let useFill = Bool.random(using: &g)
        var fed = 0
        var decoded: [WireMessage] = []
        var failure: WireError?
        let where_ = "seed \(Self.seed) case \(index)"
        feeding: while fed < stream.count || fed == 0 {
            let n = min(stream.count - fed, chunkSize(&g))
            if useFill {
                let written = d.fill(minimumSpace: max(n, 1)) { (space: UnsafeMutableRawBufferPointer) -> Int in
                    let k = min(n, space.count)
                    guard k > 0 else { return 0 }
                    stream.withUnsafeBytes { src in
                        space.baseAddress!.copyMemory(from: src.baseAddress! + fed, byteCount: k)
                    }
                    return k
                }
                fed += written
            } else {
                stream[fed ..< fed + n].withUnsafeBytes { d.append($0) }
                fed += n
            }
            do {
                while let m = try d.nextMessage() { decoded.append(m) }
            } catch {
                failure = error
                break feeding
            }
            if stream.isEmpty { break }
        }
        // Growth is bounded by the bytes fed and the frame limit, never by a claimed length.
        #expect(d.bufferCapacity <= 2 * (stream.count + limit + (64 << 10)), "\(where_): buffer \(d.bufferCapacity)")
        if let failure {
            if let problem = Self.contextProblem(failure, limit: limit) { Issue.record("\(where_): \(failure): \(problem)") }
            #expect(d.failedWith == failure, "\(where_)")
            do {
                _ = try d.nextMessage()
                Issue.record("\(where_): decoder did not stay failed after \(failure)")
            } catch {
                #expect(error == failure, "\(where_): a later call threw \(error), not \(failure)")
            }
        }
        for m in decoded {
            let once = WireCodec.encode(m)
            let (again, err) = decodeAll(once)
            #expect(err == nil && again.count == 1, "\(where_): \(m.type) does not re-decode: \(String(describing: err))")
            if let back = again.first { #expect(WireCodec.encode(back) == once, "\(where_): \(m.type) re-encodes differently") }
        }
        tally.decodedMessages += decoded.count
        if pristine {
            #expect(failure == nil || limit < 1 << 20, "\(where_): a valid stream failed with \(String(describing: failure))")
            if failure == nil {
                #expect(d.isAtFrameBoundary, "\(where_): valid stream left bytes over")
                #expect(decoded.map(WireCodec.encode).reduce([], +) == stream, "\(where_): valid stream did not round-trip")
                tally.exactRoundTrips += 1
            }
        }
        if failure != nil { return .error }
        return d.isAtFrameBoundary ? .messages : .needMore
    }

    func chunkSize(_ g: inout SeededGenerator) -> Int {
        switch Int.random(in: 0 ..< 4, using: &g) {
        case 0: return 1
        case 1: return Int.random(in: 1 ... 17, using: &g)
        case 2: return Int.random(in: 1 ... 300, using: &g)
        default: return Int.max / 2
        }
    }

    func randomBytes(_ n: Int, _ g: inout SeededGenerator) -> [UInt8] {
        (0 ..< n).map { _ in UInt8.random(in: 0 ... 255, using: &g) }
    }

    static let interesting: [UInt64] = [
        0, 1, 2, 3, 4, 7, 8, 15, 16, 17, 26, 45, 63, 64, 65, 66, 127, 128, 255, 256, 4095, 4096, 4097, 0x7FFF, 0x8000,
        0xFFFF, 0x1_0000, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFE, 0xFFFF_FFFF, 0x1_0000_0000, UInt64(Int64.max), UInt64.max,
    ]

    /// One to four mutations of a valid frame; usually re-stamps the header (length and checksum)
    /// so the payload decoders, not the header check, see the damage.
    func mutateFrame(_ frame: [UInt8], seeds: [[UInt8]], _ g: inout SeededGenerator) -> [UInt8] {
        var f = frame
        for _ in 0 ..< Int.random(in: 1 ... 4, using: &g) {
            switch Int.random(in: 0 ..< 9, using: &g) {
            case 0 where f.count > 0:  // flip a bit
                f[Int.random(in: 0 ..< f.count, using: &g)] ^= 1 << UInt8.random(in: 0 ... 7, using: &g)
            case 1 where f.count > 0:  // random byte
                f[Int.random(in: 0 ..< f.count, using: &g)] = UInt8.random(in: 0 ... 255, using: &g)
            case 2 where f.count > 16, 3 where f.count > 16:  // interesting integer of width 1, 2, 4 or 8 in the payload
                let width = [1, 2, 4, 8].randomElement(using: &g)!
                let at = Int.random(in: 16 ..< f.count, using: &g)
                let v = Self.interesting.randomElement(using: &g)!
                for k in 0 ..< width where at + k < f.count { f[at + k] = UInt8(truncatingIfNeeded: v >> (8 * UInt64(k))) }
            case 4 where f.count > 16:  // delete a range
                let a = Int.random(in: 16 ..< f.count, using: &g)
                let b = Int.random(in: a ... min(f.count, a + 40), using: &g)
                f.removeSubrange(a ..< b)
            case 5:  // insert random or duplicated bytes
                let at = Int.random(in: min(16, f.count) ... f.count, using: &g)
                let insert = Bool.random(using: &g) || f.count <= 16
                    ? randomBytes(Int.random(in: 1 ... 40, using: &g), &g)
                    : Array(f[16 ..< min(f.count, 16 + Int.random(in: 1 ... 40, using: &g))])
                f.insert(contentsOf: insert, at: at)
            case 6:  // splice: this header with the tail of another frame's payload
                let other = seeds.randomElement(using: &g)!
                let cut = Int.random(in: 16 ... other.count, using: &g)
                f = Array(f.prefix(16)) + Array(other[cut...])
            case 7 where f.count > 16:  // truncate the payload
                f.removeLast(Int.random(in: 1 ... f.count - 16, using: &g))
            default:  // retype: another message type's decoder reads this payload
                if f.count >= 8 { f[6] = UInt8.random(in: 1 ... 9, using: &g); f[7] = 0 }
            }
        }
        guard f.count >= 16 else { return f }
        switch Int.random(in: 0 ..< 10, using: &g) {
        case 0: return f  // header as damaged (checksum probably wrong)
        case 1:  // lie about the length, with a valid checksum
            let type = UInt16(f[6]) | UInt16(f[7]) << 8
            let length = UInt32(truncatingIfNeeded: Self.interesting.randomElement(using: &g)!)
            return Samples.frame(type: type, payload: Array(f[16...]), length: length)
        default:  // honest length and checksum
            let type = UInt16(f[6]) | UInt16(f[7]) << 8
            return Samples.frame(type: type, payload: Array(f[16...]))
        }
    }
}
