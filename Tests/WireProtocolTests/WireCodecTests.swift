import Testing
import WireProtocol
import ServingTypes

@Suite struct WireCodecRoundTripTests {
    @Test func everyMessageRoundTrips() throws {
        let covered = Set(Samples.messages.map(\.type))
        #expect(covered == Set(WireMessageType.allCases))
        for m in Samples.messages {
            let frame = WireCodec.encode(m)
            var d = FrameDecoder()
            d.append(frame)
            let decoded = try d.nextMessage()
            #expect(decoded == m, "round trip of \(m.type)")
            #expect(try d.nextMessage() == nil)
            #expect(d.bufferedByteCount == 0)
        }
    }

    @Test func headerLayoutIsAsDocumented() {
        let f = WireCodec.encode(.heartbeat(WireHeartbeat(sequenceNumber: 1, sentAtNanoseconds: 2)))
        #expect(Array(f[0 ..< 4]) == Array("PSWP".utf8))
        #expect(Array(f[4 ..< 6]) == [5, 0])
        #expect(Array(f[6 ..< 8]) == [7, 0])
        #expect(Array(f[8 ..< 12]) == [16, 0, 0, 0])
        #expect(Array(f[12 ..< 16]) == le(Samples.fnv1a32(Array(f[0 ..< 12]))))
        #expect(f.count == 32)
    }

    @Test func errorMessageIsCutAt4KiBOnAScalarBoundary() throws {
        let long = String(repeating: "a", count: 4095) + "€€"  // 4095 + 6 bytes
        let report = WireErrorReport(origin: .coordinator, code: .malformedFrame, message: long)
        #expect(report.message.utf8.count == 4095)
        let (msgs, err) = decodeAll(WireCodec.encode(.error(report)))
        #expect(err == nil)
        #expect(msgs == [.error(report)])
    }

    @Test func nanLogprobRoundTrips() throws {
        let m = WireMessage.sampledTokens(WireSampledTokens(batch: BatchID(1), slot: MicroBatchSlot(0),
            tokens: [WireSampledToken(sequence: SequenceID(9), token: 3)]))
        let (msgs, err) = decodeAll(WireCodec.encode(m))
        #expect(err == nil)
        guard case let .sampledTokens(s)? = msgs.first else { Issue.record("no message"); return }
        #expect(s.tokens[0].logprob.isNaN)
    }

    @Test(arguments: [WireActivationDType.f16, .bf16])
    func halfPrecisionHiddenStatesRoundWithinHalfAnUlp(dtype: WireActivationDType) throws {
        var h = Samples.hidden(rows: 16, width: 64, seed: 7)
        h.values += [0, -0, 1e-3, -65504, 1e-8, 3.0e38, .infinity, -.infinity]
        h.rows = (h.values.count) / 8
        h.width = 8
        h.values += Array(repeating: 0.5, count: h.rows * 8 - h.values.count)
        h.dtype = dtype
        let m = WireMessage.forwardBatch(WireForwardBatch(batch: BatchID(1), slot: MicroBatchSlot(0), entries: [], hiddenStates: h))
        let (msgs, err) = decodeAll(WireCodec.encode(m))
        #expect(err == nil)
        guard case let .forwardBatch(b)? = msgs.first, let out = b.hiddenStates else { Issue.record("no batch"); return }
        #expect(out.dtype == dtype && out.rows == h.rows && out.width == 8)
        // Relative error bound of round-to-nearest: 2^-11 (f16, normal range) / 2^-8 (bf16).
        let bound: Float = dtype == .f16 ? 1.0 / 2048 : 1.0 / 256
        for (x, y) in zip(h.values, out.values) {
            if x.isInfinite || (dtype == .f16 && abs(x) > 65520) {
                #expect(y == (x > 0 ? .infinity : -.infinity), "\(x) → \(y)")
            } else if dtype == .f16 && abs(x) < 6.2e-5 {
                #expect(abs(y - x) <= 3.0e-8, "\(x) → \(y)")  // subnormal f16: half of 2^-24
            } else {
                #expect(abs(y - x) <= bound * abs(x), "\(x) → \(y)")
            }
        }
    }

    @Test func roundingIsToNearestEven() throws {
        let ulp16: Float = 1.0 / 1024, ulpB: Float = 1.0 / 128
        let inputs: [Float] = [1 + ulp16 / 2, 1 + 3 * ulp16 / 2, 1 + ulpB / 2, 1 + 3 * ulpB / 2, .nan]
        func roundTrip(_ dtype: WireActivationDType) -> [Float] {
            let m = WireMessage.forwardBatch(WireForwardBatch(batch: BatchID(1), slot: MicroBatchSlot(0), entries: [],
                hiddenStates: WireHiddenStates(dtype: dtype, rows: 1, width: inputs.count, values: inputs)))
            guard case let .forwardBatch(b)? = decodeAll(WireCodec.encode(m)).0.first else { return [] }
            return b.hiddenStates?.values ?? []
        }
        let f16 = roundTrip(.f16)
        #expect(f16.count == 5)
        #expect(Array(f16.prefix(2)) == [1, 1 + 2 * ulp16])
        #expect(f16.last?.isNaN == true)
        let bf = roundTrip(.bf16)
        #expect(Array(bf[2 ..< 4]) == [1, 1 + 2 * ulpB])
        #expect(bf.last?.isNaN == true)
    }

    @Test(arguments: [WireActivationDType.f32, .f16, .bf16])
    func zeroCopyEncodingMatchesPlainEncoding(dtype: WireActivationDType) throws {
        var batch = Samples.batch(entries: 4, rows: 4, width: 32, dtype: dtype)
        let hidden = batch.hiddenStates!
        let plain = WireCodec.encode(.forwardBatch(batch))
        batch.hiddenStates = nil
        let split = try hidden.values.withUnsafeBufferPointer { buf in
            let s = try WireCodec.encodeForwardBatch(batch, hiddenStates: buf, rows: 4, width: 32, dtype: dtype)
            return s.head + (s.tail.map { Array($0) } ?? [])
        }
        #expect(split == plain)
        #expect(throws: WireError.self) {
            try hidden.values.withUnsafeBufferPointer { buf in
                _ = try WireCodec.encodeForwardBatch(batch, hiddenStates: buf, rows: 5, width: 32, dtype: dtype)
            }
        }
    }

    @Test func byteByByteAndRandomChunksEqualAllAtOnce() throws {
        let stream = Samples.messages.flatMap { WireCodec.encode($0) }
        let (all, err) = decodeAll(stream)
        #expect(err == nil)
        #expect(all == Samples.messages)

        var d = FrameDecoder()
        var oneByOne: [WireMessage] = []
        for b in stream {
            d.append([b])
            while let m = try d.nextMessage() { oneByOne.append(m) }
        }
        #expect(oneByOne == all)

        var g = SeededGenerator(seed: 99)
        var d2 = FrameDecoder()
        var chunked: [WireMessage] = []
        var i = 0
        while i < stream.count {
            let n = min(Int.random(in: 1 ... 700, using: &g), stream.count - i)
            d2.append(Array(stream[i ..< i + n]))
            i += n
            while let m = try d2.nextMessage() { chunked.append(m) }
        }
        #expect(chunked == all)
    }

    @Test func fillWritesStraightIntoTheBuffer() throws {
        let stream = Samples.messages.flatMap { WireCodec.encode($0) }
        var d = FrameDecoder()
        var out: [WireMessage] = []
        var at = 0
        while at < stream.count {
            let n = d.fill(minimumSpace: 100) { (buf: UnsafeMutableRawBufferPointer) -> Int in
                let k = min(buf.count, 333, stream.count - at)
                stream.withUnsafeBytes { buf.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[at ..< at + k])) }
                return k
            }
            at += n
            while let m = try d.nextMessage() { out.append(m) }
        }
        #expect(out == Samples.messages)
    }
}

/// The request label that lets a stage's log lines name the API request.
@Suite struct RequestLabelTests {
    @Test func aLabelTravelsAndALongOneIsCutAtAScalarBoundary() throws {
        let long = String(repeating: "é", count: 100)  // 200 bytes
        let e = WireBatchEntry(sequence: SequenceID(1), startPosition: 0, count: 1, logits: .last, tokens: [1], requestLabel: long)
        #expect(e.requestLabel.utf8.count == WireBatchEntry.maxRequestLabelBytes && e.requestLabel.allSatisfy { $0 == "é" })
        let odd = WireBatchEntry(sequence: SequenceID(1), startPosition: 0, count: 1, logits: .last, tokens: [1],
                                 requestLabel: "a" + String(repeating: "😀", count: 40))
        #expect(odd.requestLabel.utf8.count <= WireBatchEntry.maxRequestLabelBytes && !odd.requestLabel.contains("\u{FFFD}"))
        let batch = WireForwardBatch(batch: BatchID(1), slot: MicroBatchSlot(0), entries: [e, odd])
        var decoder = FrameDecoder()
        decoder.append(WireCodec.encode(.forwardBatch(batch)))
        guard case let .forwardBatch(back)? = try decoder.nextMessage() else { Issue.record("no batch"); return }
        #expect(back.entries.map(\.requestLabel) == [e.requestLabel, odd.requestLabel])
    }
}

