import Testing
import WireProtocol
import ServingTypes

@Suite struct MalformedFrameTests {
    @Test func everyTruncatedPrefixAsksForMoreBytes() throws {
        for m in Samples.messages {
            let frame = WireCodec.encode(m)
            for cut in 0 ..< frame.count {
                var d = FrameDecoder()
                d.append(Array(frame[..<cut]))
                #expect(try d.nextMessage() == nil, "\(m.type) cut at \(cut)")
                d.append(Array(frame[cut...]))
                #expect(try d.nextMessage() == m)
            }
        }
    }

    @Test func payloadShorterThanItsContentIsRejectedAtEveryLength() {
        for m in Samples.messages {
            let frame = WireCodec.encode(m)
            let payloadLength = frame.count - 16
            for length in 0 ..< payloadLength {
                let shortened = Samples.withLength(Array(frame[..<(16 + length)]), length)
                let (msgs, err) = decodeAll(shortened)
                #expect(msgs.isEmpty)
                switch err {
                case .truncatedPayload(let type, _, _, _, _)?, .countTooLarge(let type, _, _, _, _)?:
                    #expect(type == m.type)
                default:
                    Issue.record("\(m.type) payload cut to \(length): expected truncation error, got \(String(describing: err))")
                }
            }
            // One byte too many is also an error.
            let longer = Samples.withLength(frame + [0], payloadLength + 1)
            #expect(decodeAll(longer).1 == .trailingBytes(type: m.type, count: 1))
        }
    }

    @Test func truncationErrorNamesTypeFieldAndOffset() {
        let frame = WireCodec.encode(.heartbeat(WireHeartbeat(sequenceNumber: 1, sentAtNanoseconds: 2)))
        let err = decodeAll(Samples.withLength(Array(frame[..<28]), 12)).1
        #expect(err == .truncatedPayload(type: .heartbeat, field: "sent-at", offset: 8, needed: 8, available: 4))
        #expect(err?.description.contains("heartbeat") == true)
        #expect(err?.description.contains("offset 8") == true)
    }

    @Test func wrongMagicVersionChecksumAndType() {
        let good = WireCodec.encode(.reset)
        var badMagic = good
        badMagic[0] = UInt8(ascii: "X")
        #expect(decodeAll(badMagic).1 == .badMagic(found: 0x5057_5358))

        let v4 = Samples.frame(type: 6, payload: [], version: 4)  // the previous protocol
        #expect(decodeAll(v4).1 == .unsupportedVersion(found: 4, supported: 5))
        let v6 = Samples.frame(type: 6, payload: [], version: 6)
        #expect(decodeAll(v6).1 == .unsupportedVersion(found: 6, supported: 5))

        var badCheck = good
        badCheck[13] ^= 0x40
        guard case .headerChecksumMismatch? = decodeAll(badCheck).1 else {
            Issue.record("checksum mismatch not detected"); return
        }
        var flippedLength = good  // a corrupted length is caught by the checksum
        flippedLength[9] = 0x10
        guard case .headerChecksumMismatch? = decodeAll(flippedLength).1 else {
            Issue.record("corrupted length not detected"); return
        }

        for t: UInt16 in [0, 11, 0xFFFF] {
            #expect(decodeAll(Samples.frame(type: t, payload: [])).1 == .unknownMessageType(t))
        }
    }

    @Test func oversizeLengthIsRejectedFromTheHeaderWithoutAllocating() throws {
        var d = FrameDecoder(maxFrameSize: 64 << 20)
        d.append(Samples.frame(type: 3, payload: [], length: .max))  // claims 4 GiB
        #expect(throws: WireError.frameTooLarge(frameSize: UInt64(UInt32.max) + 16, limit: 64 << 20)) {
            try d.nextMessage()
        }
        #expect(d.bufferCapacity < 4096)
        // fill() must not reserve the claimed size either.
        _ = d.fill { _ in 0 }
        #expect(d.bufferCapacity < 1 << 20)

        // A legal but large frame announced and then stalled reserves at most 16 MiB ahead.
        var big = FrameDecoder()
        big.append(Samples.frame(type: 3, payload: [], length: 200 << 20))
        #expect(try big.nextMessage() == nil)
        _ = big.fill { _ in 0 }
        #expect(big.bufferCapacity <= 17 << 20)

        // The limit counts the header: exactly at the limit passes, one more byte fails.
        let frame = WireCodec.encode(.freeSequences([SequenceID(1)]))
        #expect(decodeAll(frame, maxFrameSize: frame.count).1 == nil)
        #expect(decodeAll(frame, maxFrameSize: frame.count - 1).1 == .frameTooLarge(frameSize: UInt64(frame.count), limit: frame.count - 1))
    }

    @Test func decoderStaysFailed() throws {
        var d = FrameDecoder()
        d.append(Samples.frame(type: 77, payload: []))
        #expect(throws: WireError.unknownMessageType(77)) { try d.nextMessage() }
        d.append(WireCodec.encode(.reset))
        #expect(throws: WireError.unknownMessageType(77)) { try d.nextMessage() }
        #expect(d.failedWith == .unknownMessageType(77))
    }

    @Test func countsBeyondThePayloadAreRejected() {
        // freeSequences claiming 2^31 ids in a 4-byte payload.
        #expect(decodeAll(Samples.frame(type: 5, payload: le(UInt32(1) << 31))).1
            == .countTooLarge(type: .freeSequences, field: "sequence ids", count: 1 << 31, offset: 0, bytesLeft: 0))
        // dropBlocks claiming 2^31 names, and an entry claiming 2^28 restore blocks.
        #expect(decodeAll(Samples.frame(type: 10, payload: le(UInt32(1) << 31))).1
            == .countTooLarge(type: .dropBlocks, field: "block names", count: 1 << 31, offset: 0, bytesLeft: 0))
        var blocks = le(UInt64(1)) + le(UInt32(0)) + le(UInt32(1)) + le(UInt64(9)) + le(UInt32(0)) + le(UInt32(1)) + [1]
        blocks += le(UInt32(0)) + Array(repeating: 0, count: 45) + le(UInt32(0)) + le(UInt32(1) << 28) + le(UInt32(0)) + le(UInt32(0)) + [0]
        guard case .countTooLarge(.forwardBatch, "restore blocks", _, _, _)? = decodeAll(Samples.frame(type: 3, payload: blocks)).1
        else { Issue.record("restore block count not rejected"); return }
        // forwardBatch with 0xFFFFFFFF entries.
        let fb = le(UInt64(1)) + le(UInt32(0)) + le(UInt32.max)
        guard case .countTooLarge(.forwardBatch, "entries", 0xFFFF_FFFF, 12, 0)? = decodeAll(Samples.frame(type: 3, payload: fb)).1
        else { Issue.record("entries count not rejected"); return }
        // hidden states of 2^32-1 × 2^32-1 elements (the byte count overflows u64).
        let hs = le(UInt64(1)) + le(UInt32(0)) + le(UInt32(0)) + le(UInt32(0)) + [1, 0] + le(UInt32.max) + le(UInt32.max)
        guard case .countTooLarge(.forwardBatch, _, _, _, 0)? = decodeAll(Samples.frame(type: 3, payload: hs)).1
        else { Issue.record("hidden state shape not rejected"); return }
        // a token claiming 255 top logprobs with none present.
        let st = le(UInt64(1)) + le(UInt32(0)) + le(UInt32(1)) + le(UInt64(5)) + le(Int32(1)) + le(UInt32(0)) + [0, 255]
        guard case .countTooLarge(.sampledTokens, "top logprobs", 255, _, _)? = decodeAll(Samples.frame(type: 4, payload: st)).1
        else { Issue.record("top logprob count not rejected"); return }
        // entry with 2^30 token ids.
        var entry = le(UInt64(1)) + le(UInt32(0)) + le(UInt32(1))  // batch, slot, one entry
        entry += le(UInt64(9)) + le(UInt32(0)) + le(UInt32(1)) + [1] + le(UInt32(1) << 30) + Array(repeating: 0, count: 45)
        entry += le(UInt32(0)) + le(UInt32(0)) + le(UInt32(0)) + le(UInt32(0)) + [0]
        guard case .countTooLarge(.forwardBatch, "token ids", _, _, _)? = decodeAll(Samples.frame(type: 3, payload: entry)).1
        else { Issue.record("token count not rejected"); return }
    }

    @Test func invalidValuesStringsAndTrailingBytes() {
        let err = { (type: UInt16, payload: [UInt8]) in decodeAll(Samples.frame(type: type, payload: payload)).1 }
        // error message longer than 4 KiB, and invalid UTF-8
        #expect(err(9, le(Int32(-1)) + le(UInt16(1)) + le(UInt64(0)) + le(UInt32(4097)) + Array(repeating: 65, count: 4097))
            == .stringTooLong(type: .error, field: "message", length: 4097, limit: 4096))
        #expect(err(9, le(Int32(-1)) + le(UInt16(1)) + le(UInt64(7)) + le(UInt32(2)) + [0xC3, 0x28])
            == .invalidUTF8(type: .error, field: "message", offset: 18))
        // role -2
        #expect(err(2, le(Int32(-2)) + le(Int32(5))) == .invalidValue(type: .helloAck, field: "receiver role", value: -2, offset: 0))
        // hello: dtype 7, and layer end < start
        let helloHead = le(UInt16(1)) + le(UInt64(1)) + le(UInt64(2)) + le(UInt16(2)) + le(Int32(1))
        #expect(err(1, helloHead + le(UInt32(0)) + le(UInt32(4)) + [7] + le(Int32(-1)))
            == .invalidValue(type: .hello, field: "activation dtype", value: 7, offset: 32))
        guard case .invalidValue(.hello, _, 3, 28)? = err(1, helloHead + le(UInt32(5)) + le(UInt32(3)) + [0] + le(Int32(-1)))
        else { Issue.record("reversed layer range not rejected"); return }
        // logits mode 3, hidden-state flag 2
        var fb = le(UInt64(1)) + le(UInt32(0)) + le(UInt32(1)) + le(UInt64(9)) + le(UInt32(0)) + le(UInt32(1)) + [3]
        fb += le(UInt32(0)) + Array(repeating: 0, count: 45) + le(UInt32(0)) + le(UInt32(0)) + le(UInt32(0)) + le(UInt32(0)) + [0]
        guard case .invalidValue(.forwardBatch, "logits mode", 3, 32)? = err(3, fb) else { Issue.record("logits mode"); return }
        #expect(err(3, le(UInt64(1)) + le(UInt32(0)) + le(UInt32(0)) + le(UInt32(0)) + [2])
            == .invalidValue(type: .forwardBatch, field: "hidden states flag", value: 2, offset: 20))
        #expect(err(3, le(UInt64(1)) + le(UInt32(0)) + le(UInt32(0)) + le(UInt32(0)) + [1, 3] + le(UInt32(0)) + le(UInt32(0)))
            == .invalidValue(type: .forwardBatch, field: "hidden states dtype", value: 3, offset: 21))
        // trailing bytes on an empty message
        #expect(err(8, [0, 0]) == .trailingBytes(type: .shutdown, count: 2))
        // sampled token flags 2
        let st = le(UInt64(1)) + le(UInt32(0)) + le(UInt32(1)) + le(UInt64(5)) + le(Int32(1)) + le(UInt32(0)) + [2, 0] + le(UInt32(0))
        #expect(err(4, st) == .invalidValue(type: .sampledTokens, field: "sampled token flags", value: 2, offset: 32))
    }

    /// One forwardBatch with one entry whose constraint part is `constraint` (at offset 94 of the payload).
    static func constraintFrame(_ constraint: [UInt8]) -> [UInt8] {
        var fb = le(UInt64(1)) + le(UInt32(0)) + le(UInt32(1))
        fb += le(UInt64(9)) + le(UInt32(0)) + le(UInt32(1)) + [1] + le(UInt32(0)) + Array(repeating: 0, count: 45)
        fb += le(UInt32(0)) + le(UInt32(0)) + le(UInt32(0)) + constraint + le(UInt32(0)) + [0]
        return Samples.frame(type: 3, payload: fb)
    }

    @Test func malformedConstraintsAreRejectedNamingTheField() throws {
        let err = { (c: [UInt8]) in decodeAll(Self.constraintFrame(c)).1 }
        // A well-formed one first: the frame layout above is right.
        let good = decodeAll(Self.constraintFrame([2, 3] + le(UInt32(7)) + le(UInt32(2)) + Array("{}".utf8)))
        #expect(good.1 == nil)
        guard case let .forwardBatch(b)? = good.0.first else { Issue.record("no batch"); return }
        #expect(b.entries.first?.constraint == WireConstraint(constraint: .jsonSchema(schema: "{}", strict: true), promptLength: 7,
                                                             ignoresEOS: true))
        #expect(err([4]) == .invalidValue(type: .forwardBatch, field: "constraint kind", value: 4, offset: 94))
        #expect(err([2, 4] + le(UInt32(0)) + le(UInt32(0))) == .invalidValue(type: .forwardBatch, field: "constraint flags", value: 4, offset: 95))
        // strict is a JSON Schema flag
        #expect(err([3, 1] + le(UInt32(0)) + le(UInt32(0))) == .invalidValue(type: .forwardBatch, field: "constraint flags", value: 1, offset: 95))
        #expect(err([1, 0] + le(UInt32(0)) + le(UInt32(1)) + [0x7B])
            == .invalidValue(type: .forwardBatch, field: "JSON object constraint source length", value: 1, offset: 100))
        let limit = WireConstraint.maxSourceBytes
        #expect(err([3, 0] + le(UInt32(0)) + le(UInt32(limit + 1)) + Array(repeating: 0x61, count: limit + 1))
            == .stringTooLong(type: .forwardBatch, field: "constraint source", length: limit + 1, limit: limit))
        #expect(err([3, 0] + le(UInt32(0)) + le(UInt32(2)) + [0xC3, 0x28]) == .invalidUTF8(type: .forwardBatch, field: "constraint source", offset: 104))
        // a source longer than what is left, and a constraint cut short
        let past = err([3, 0] + le(UInt32(0)) + le(UInt32(1000)) + [0x61])
        guard case .truncatedPayload(.forwardBatch, "constraint source", _, _, _)? = past
        else { Issue.record("source past the payload not rejected: \(String(describing: past))"); return }
        // (the batch's timing count and hidden-state flag follow, so the cut shows in the source length)
        let cut = err([2, 0, 1])
        guard case .truncatedPayload(.forwardBatch, "constraint source length", _, _, _)? = cut else {
            Issue.record("cut constraint not rejected: \(String(describing: cut))"); return
        }
    }

    @Test func garbageNeverCrashes() throws {
        var g = SeededGenerator(seed: 2026)
        var outcomes = (messages: 0, errors: 0, needMore: 0)
        func run(_ bytes: [UInt8]) {
            var d = FrameDecoder(maxFrameSize: 1 << 20)
            d.append(bytes)
            do {
                while try d.nextMessage() != nil { outcomes.messages += 1 }
                outcomes.needMore += 1
            } catch {
                outcomes.errors += 1
                if let problem = WireFuzzTests.contextProblem(error, limit: 1 << 20) { Issue.record("\(error): \(problem)") }
            }
        }
        // 1. Pure random bytes.
        for _ in 0 ..< 1000 {
            run((0 ..< Int.random(in: 0 ... 300, using: &g)).map { _ in UInt8.random(in: 0 ... 255, using: &g) })
        }
        // 2. A valid header of a random type and random payload, so payload parsers see garbage.
        for _ in 0 ..< 3000 {
            let payload = (0 ..< Int.random(in: 0 ... 200, using: &g)).map { _ in
                // small values make plausible counts more likely
                Bool.random(using: &g) ? UInt8.random(in: 0 ... 3, using: &g) : UInt8.random(in: 0 ... 255, using: &g)
            }
            run(Samples.frame(type: UInt16.random(in: 1 ... 9, using: &g), payload: payload))
        }
        // 3. Valid frames with a few payload bytes mutated (and the length sometimes changed).
        let frames = Samples.messages.map { WireCodec.encode($0) }.filter { $0.count > 16 }
        for _ in 0 ..< 3000 {
            var f = frames.randomElement(using: &g)!
            for _ in 0 ..< Int.random(in: 1 ... 4, using: &g) {
                f[Int.random(in: 16 ..< f.count, using: &g)] = UInt8.random(in: 0 ... 255, using: &g)
            }
            if Bool.random(using: &g) {
                let newLength = Int.random(in: 0 ... f.count - 16, using: &g)
                f = Samples.withLength(Array(f[..<(16 + newLength)]), newLength)
            }
            run(f)
        }
        // Each of the 7000 runs ends in an error or in waiting for more bytes (their sum is 7000 by
        // construction, so it proves nothing); both must occur, and some garbage must still decode
        // (725 messages with this seed), or the payload decoders' accepting paths went unexercised.
        #expect(outcomes.errors > 1000 && outcomes.needMore > 0, "\(outcomes)")
        #expect(outcomes.messages > 100, "\(outcomes)")
    }
}
