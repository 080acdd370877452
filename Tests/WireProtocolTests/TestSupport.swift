import WireProtocol
import ServingTypes

/// SplitMix64: a small seeded generator so fuzz cases are reproducible.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

enum Samples {
    static let model = ModelIdentity(fileSize: 253_000_000, metadataHash: 0xDEAD_BEEF_0123_4567)

    static func sampling(_ i: Int) -> SamplingParameters {
        SamplingParameters(temperature: 0.7, topK: 40, topP: 0.95, minP: 0.05, repetitionPenalty: 1.1,
                           presencePenalty: 0.25, frequencyPenalty: -0.5, penaltyWindow: 64,
                           seed: 0xFFFF_FFFF_FFFF_FFF0 &+ UInt64(i))
    }

    static func hidden(rows: Int, width: Int, dtype: WireActivationDType = .f32, seed: UInt64 = 1) -> WireHiddenStates {
        var g = SeededGenerator(seed: seed)
        let values = (0 ..< rows * width).map { _ in Float.random(in: -8 ... 8, using: &g) }
        return WireHiddenStates(dtype: dtype, rows: rows, width: width, values: values)
    }

    /// Every constraint kind and flag, and none.
    static let constraints: [WireConstraint?] = [
        WireConstraint(constraint: .jsonSchema(schema: #"{"type":"object","properties":{"é":{"const":"😀"}}}"#, strict: true),
                       promptLength: 12),
        nil,
        WireConstraint(constraint: .grammar("root ::= \"yes\" | \"no\"\n"), promptLength: .max, ignoresEOS: true),
        WireConstraint(constraint: .jsonObject, promptLength: 0),
        WireConstraint(constraint: .jsonSchema(schema: "{}", strict: false), promptLength: 1, ignoresEOS: true),
    ]

    static func batch(entries: Int, rows: Int, width: Int, dtype: WireActivationDType = .f32,
                      tokens: Bool = true) -> WireForwardBatch {
        let es = (0 ..< entries).map { i in
            WireBatchEntry(sequence: SequenceID(UInt64(1000 + i)), startPosition: UInt32(i * 3), count: 1,
                           logits: i % 3 == 0 ? .last : (i % 3 == 1 ? .none : .all),
                           tokens: tokens ? [Int32(i), -1, Int32.max] : [], sampling: sampling(i),
                           tokenIndex: UInt32(i), topLogprobs: 20, requestLabel: i == 0 ? "cmpl-0123456789abcdef01234567" : "",
                           restoreBlocks: i == 1 ? [WireBlockRef(name: .max, startPosition: 0, count: 16),
                                                    WireBlockRef(name: 7, startPosition: 16, count: 16)] : [],
                           storeBlocks: i == 2 ? [WireBlockRef(name: 0x0123_4567_89AB_CDEF, startPosition: 32, count: 16)] : [],
                           constraint: constraints[i % constraints.count])
        }
        return WireForwardBatch(
            batch: BatchID(42), slot: MicroBatchSlot(3), entries: es,
            timings: [WireStageTiming(stage: StageIndex(0), waitNanoseconds: 12, computeNanoseconds: .max)],
            hiddenStates: rows * width > 0 || rows > 0 ? hidden(rows: rows, width: width, dtype: dtype) : nil)
    }

    /// One or more instances of every message type, including empty lists and a maximal string.
    static var messages: [WireMessage] {
        [
            .hello(WireHello(model: model, stageCount: 4, receiver: .stage(StageIndex(2)), layerRange: 9 ..< 14,
                             activationDType: .bf16, sender: .stage(StageIndex(1)))),
            .hello(WireHello(model: model, stageCount: 1, receiver: .coordinator, layerRange: 0 ..< 0,
                             activationDType: .f32, sender: .stage(StageIndex(0)))),
            .helloAck(WireHelloAck(receiver: .stage(StageIndex(65535)), pid: 4242)),
            .helloAck(WireHelloAck(receiver: .coordinator, pid: 1)),
            .forwardBatch(batch(entries: 3, rows: 3, width: 8)),
            .forwardBatch(batch(entries: 5, rows: 5, width: 2)),
            .forwardBatch(batch(entries: 2, rows: 0, width: 0, tokens: false)),
            .forwardBatch(WireForwardBatch(batch: BatchID(0), slot: MicroBatchSlot(0), entries: [])),
            .forwardBatch(WireForwardBatch(batch: BatchID(1), slot: MicroBatchSlot(1), entries: [],
                                           hiddenStates: WireHiddenStates(rows: 0, width: 640, values: []))),
            .sampledTokens(WireSampledTokens(
                batch: BatchID(7), slot: MicroBatchSlot(1),
                tokens: [
                    WireSampledToken(sequence: SequenceID(5), token: 506),
                    WireSampledToken(sequence: SequenceID(9), token: 1, constraintDead: true),
                    WireSampledToken(sequence: SequenceID(6), token: 0, logprob: -0.25,
                                     topLogprobs: (0 ..< 20).map { WireTopLogprob(token: Int32($0), logprob: -Float($0)) }),
                ],
                timings: (0 ..< 4).map { WireStageTiming(stage: StageIndex(UInt16($0)), waitNanoseconds: UInt64($0), computeNanoseconds: 99) })),
            .sampledTokens(WireSampledTokens(batch: BatchID(8), slot: MicroBatchSlot(0), tokens: [])),
            .freeSequences([SequenceID(1), SequenceID(.max)]),
            .freeSequences([]),
            .dropBlocks([1, .max, 0x5053_4252_4C4F_434B]),
            .dropBlocks([]),
            .reset,
            .heartbeat(WireHeartbeat(sequenceNumber: 17, sentAtNanoseconds: 123_456_789_012)),
            .shutdown,
            .error(WireErrorReport(origin: .coordinator, code: .modelMismatch, message: "model hash differs")),
            .error(WireErrorReport(origin: .stage(StageIndex(3)), code: WireErrorCode(rawValue: 999), message: "")),
            .error(WireErrorReport(origin: .stage(StageIndex(2)), code: .internalFailure, batch: BatchID(77), message: "token 99999")),
            .error(WireErrorReport(origin: .stage(StageIndex(1)), code: .internalFailure,
                                   message: String(repeating: "é", count: 2048))),  // exactly 4096 bytes
        ]
    }

    static func frame(type: UInt16, payload: [UInt8], version: UInt16 = WireFrame.version,
                      magic: UInt32 = WireFrame.magic, length: UInt32? = nil) -> [UInt8] {
        var h: [UInt8] = []
        func put<T: FixedWidthInteger>(_ v: T) { withUnsafeBytes(of: v.littleEndian) { h.append(contentsOf: $0) } }
        put(magic)
        put(version)
        put(type)
        put(length ?? UInt32(payload.count))
        put(fnv1a32(h))
        return h + payload
    }

    static func fnv1a32(_ bytes: [UInt8]) -> UInt32 {
        var h: UInt32 = 0x811C_9DC5
        for b in bytes { h = (h ^ UInt32(b)) &* 0x0100_0193 }
        return h
    }

    /// Rewrites the header of `frame` with a new payload length and a fresh checksum.
    static func withLength(_ frame: [UInt8], _ length: Int) -> [UInt8] {
        let type = UInt16(frame[6]) | UInt16(frame[7]) << 8
        return Samples.frame(type: type, payload: Array(frame[16...]), length: UInt32(length))
    }
}

/// Decodes every message in `bytes`; returns the messages and the error that stopped it, if any.
func decodeAll(_ bytes: [UInt8], maxFrameSize: Int = WireFrame.defaultMaxFrameSize) -> ([WireMessage], WireError?) {
    var d = FrameDecoder(maxFrameSize: maxFrameSize)
    d.append(bytes)
    var out: [WireMessage] = []
    do {
        while let m = try d.nextMessage() { out.append(m) }
    } catch {
        return (out, error)
    }
    return (out, nil)
}

func le<T: FixedWidthInteger>(_ v: T) -> [UInt8] { withUnsafeBytes(of: v.littleEndian) { Array($0) } }
