import ServingTypes

// Payload layouts (after the 16-byte frame header; little-endian; "count" = u32 unless noted).
// Every count is checked against the bytes left, times the smallest element size, before
// anything is allocated.
//
//  1 hello (37 B)        u16 protocol version | u64 model file size | u64 metadata hash
//                        u16 stage count | i32 receiver role | u32 layer start | u32 layer end
//                        u8 dtype (0 f32, 1 f16, 2 bf16) | i32 sender role        (role: -1 = coordinator)
//  2 helloAck (8 B)      i32 receiver role | i32 pid
//  3 forwardBatch        u64 batch id | u32 slot | count entries × entry | count timings × timing
//                        u8 has hidden states (0/1) [ u8 dtype | u32 rows | u32 width | rows×width elements ]
//       entry (≥ 78 B)   u64 sequence | u32 start position | u32 count | u8 logits (0 none, 1 last, 2 all)
//                        count tokens × i32 | sampling (45 B):
//                        f32 temperature | i32 top_k | f32 top_p | f32 min_p | f32 repetition penalty
//                        f32 presence penalty | f32 frequency penalty | i32 penalty window | u64 seed
//                        u32 first token index | u8 top logprobs
//                        count bytes of UTF-8 request label (≤ 128; empty but on a sequence's first chunk)
//                        count restore blocks × block | count store blocks × block
//                        u8 constraint kind (0 none, 1 JSON object, 2 JSON Schema, 3 GBNF grammar)
//                        [ constraint, when the kind is not 0 ]
//       block (16 B)     u64 name | u32 start position | u32 count
//       constraint (≥ 9 B) u8 flags (1 strict, 2 ignore end-of-generation; other bits 0)
//                        u32 prompt length | count bytes of UTF-8 source (≤ 256 KiB; empty for a JSON object)
//                        (only on a sequence's first entry of an admission; the last stage keeps it)
//       timing (26 B)    u16 stage | u64 wait ns | u64 compute ns | u64 finished-at ns (CLOCK_MONOTONIC)
//                        (hidden states come last so f32 data can be sent straight from the caller's buffer)
//  4 sampledTokens       u64 batch id | u32 slot | count tokens × token | count timings × timing
//       token (≥ 18 B)   u64 sequence | i32 token | f32 logprob (NaN = not asked)
//                        u8 flags (1: the constraint allowed no token; the sequence ends) | u8 n | n × (i32 token, f32 logprob)
//  5 freeSequences       count × u64 sequence
//  6 reset, 8 shutdown   empty
//  7 heartbeat (16 B)    u64 sequence number | u64 sent-at monotonic ns
//  9 error               i32 origin role | u16 code | u64 batch id (0 = none) | count bytes of UTF-8 message (≤ 4096)
// 10 dropBlocks          count × u64 block name

extension WireCodec {
    static let entryMinSize = 8 + 4 + 4 + 1 + 4 + WireBatchEntry.samplingWireSize + 4 + 4 + 4 + 1
    static let sampledTokenMinSize = 8 + 4 + 4 + 1 + 1

    /// Decodes one payload of `type`; the whole payload must be consumed.
    static func decodePayload(_ type: WireMessageType, _ payload: UnsafeRawBufferPointer) throws(WireError) -> WireMessage {
        var r = ByteReader(payload, type: type)
        let m: WireMessage
        switch type {
        case .hello: m = .hello(try readHello(&r))
        case .helloAck: m = .helloAck(WireHelloAck(receiver: try r.role("receiver role"), pid: try r.i32("pid")))
        case .forwardBatch: m = .forwardBatch(try readForwardBatch(&r))
        case .sampledTokens: m = .sampledTokens(try readSampledTokens(&r))
        case .freeSequences:
            let n = try r.count("sequence ids", minElementSize: 8)
            var ids: [SequenceID] = []
            ids.reserveCapacity(n)
            for _ in 0 ..< n { ids.append(SequenceID(try r.u64("sequence id"))) }
            m = .freeSequences(ids)
        case .dropBlocks:
            let n = try r.count("block names", minElementSize: 8)
            var names: [UInt64] = []
            names.reserveCapacity(n)
            for _ in 0 ..< n { names.append(try r.u64("block name")) }
            m = .dropBlocks(names)
        case .reset: m = .reset
        case .heartbeat:
            m = .heartbeat(WireHeartbeat(sequenceNumber: try r.u64("sequence number"), sentAtNanoseconds: try r.u64("sent-at")))
        case .shutdown: m = .shutdown
        case .error:
            let origin = try r.role("origin role")
            let code = WireErrorCode(rawValue: try r.u16("code"))
            let batch = try r.u64("batch id")
            let message = try r.string("message", maxBytes: WireErrorReport.maxMessageBytes)
            m = .error(WireErrorReport(origin: origin, code: code, batch: batch == 0 ? nil : BatchID(batch), message: message))
        }
        try r.finish()
        return m
    }

    static func readHello(_ r: inout ByteReader) throws(WireError) -> WireHello {
        let version = try r.u16("protocol version")
        let model = ModelIdentity(fileSize: try r.u64("model file size"), metadataHash: try r.u64("model metadata hash"))
        let stageCount = try r.u16("stage count")
        let receiver = try r.role("receiver role")
        let start = try r.u32("layer start")
        let endOffset = r.offset
        let end = try r.u32("layer end")
        guard start <= end else {
            throw .invalidValue(type: .hello, field: "layer end (< start \(start))", value: Int64(end), offset: endOffset)
        }
        let dtype = try r.dtype("activation dtype")
        let sender = try r.role("sender role")
        return WireHello(protocolVersion: version, model: model, stageCount: stageCount, receiver: receiver,
                         layerRange: start ..< end, activationDType: dtype, sender: sender)
    }

    static func readBlocks(_ r: inout ByteReader, _ what: String) throws(WireError) -> [WireBlockRef] {
        let n = try r.count(what, minElementSize: WireBlockRef.wireSize)
        var out: [WireBlockRef] = []
        out.reserveCapacity(n)
        for _ in 0 ..< n {
            out.append(WireBlockRef(name: try r.u64("block name"), startPosition: try r.u32("block start"), count: try r.u32("block count")))
        }
        return out
    }

    static func readConstraint(_ r: inout ByteReader) throws(WireError) -> WireConstraint? {
        let kindOffset = r.offset
        let kind = try r.u8("constraint kind")
        guard kind != 0 else { return nil }
        guard kind <= 3 else {
            throw .invalidValue(type: .forwardBatch, field: "constraint kind", value: Int64(kind), offset: kindOffset)
        }
        let flagsOffset = r.offset
        let flags = try r.u8("constraint flags")
        // Strict belongs to JSON Schema only; unknown bits are refused, not ignored.
        guard flags & ~3 == 0, kind == 2 || flags & 1 == 0 else {
            throw .invalidValue(type: .forwardBatch, field: "constraint flags", value: Int64(flags), offset: flagsOffset)
        }
        let promptLength = try r.u32("constraint prompt length")
        let sourceOffset = r.offset
        let source = try r.string("constraint source", maxBytes: WireConstraint.maxSourceBytes)
        let constraint: OutputConstraint
        switch kind {
        case 1:
            guard source.isEmpty else {
                throw .invalidValue(type: .forwardBatch, field: "JSON object constraint source length",
                                    value: Int64(source.utf8.count), offset: sourceOffset)
            }
            constraint = .jsonObject
        case 2: constraint = .jsonSchema(schema: source, strict: flags & 1 != 0)
        default: constraint = .grammar(source)
        }
        return WireConstraint(constraint: constraint, promptLength: promptLength, ignoresEOS: flags & 2 != 0)
    }

    static func readTimings(_ r: inout ByteReader) throws(WireError) -> [WireStageTiming] {
        let n = try r.count("stage timings", minElementSize: WireStageTiming.wireSize)
        var out: [WireStageTiming] = []
        out.reserveCapacity(n)
        for _ in 0 ..< n {
            out.append(WireStageTiming(stage: StageIndex(try r.u16("timing stage")),
                                       waitNanoseconds: try r.u64("timing wait"),
                                       computeNanoseconds: try r.u64("timing compute"),
                                       finishedAtNanoseconds: try r.u64("timing finished at")))
        }
        return out
    }

    static func readForwardBatch(_ r: inout ByteReader) throws(WireError) -> WireForwardBatch {
        let batch = BatchID(try r.u64("batch id"))
        let slot = MicroBatchSlot(try r.u32("slot"))
        let n = try r.count("entries", minElementSize: entryMinSize)
        var entries: [WireBatchEntry] = []
        entries.reserveCapacity(n)
        for _ in 0 ..< n {
            let seq = SequenceID(try r.u64("sequence id"))
            let start = try r.u32("start position")
            let count = try r.u32("position count")
            let modeOffset = r.offset
            let modeRaw = try r.u8("logits mode")
            guard let mode = WireLogitsMode(rawValue: modeRaw) else {
                throw .invalidValue(type: .forwardBatch, field: "logits mode", value: Int64(modeRaw), offset: modeOffset)
            }
            let tokenCount = try r.count("token ids", minElementSize: 4)
            let tokens = try r.i32Array(tokenCount, "token ids")
            let s = SamplingParameters(
                temperature: try r.f32("temperature"), topK: Int(try r.i32("top_k")), topP: try r.f32("top_p"),
                minP: try r.f32("min_p"), repetitionPenalty: try r.f32("repetition penalty"),
                presencePenalty: try r.f32("presence penalty"), frequencyPenalty: try r.f32("frequency penalty"),
                penaltyWindow: Int(try r.i32("penalty window")), seed: try r.u64("seed"))
            let tokenIndex = try r.u32("token index")
            let topLogprobs = try r.u8("top logprobs")
            let label = try r.string("request label", maxBytes: WireBatchEntry.maxRequestLabelBytes)
            let restores = try readBlocks(&r, "restore blocks")
            let stores = try readBlocks(&r, "store blocks")
            let constraint = try readConstraint(&r)
            entries.append(WireBatchEntry(sequence: seq, startPosition: start, count: count, logits: mode, tokens: tokens,
                                          sampling: s, tokenIndex: tokenIndex, topLogprobs: topLogprobs, requestLabel: label,
                                          restoreBlocks: restores, storeBlocks: stores, constraint: constraint))
        }
        let timings = try readTimings(&r)
        let flagOffset = r.offset
        let flag = try r.u8("hidden states flag")
        var hidden: WireHiddenStates?
        switch flag {
        case 0: hidden = nil
        case 1: hidden = try readHiddenStates(&r)
        default:
            throw .invalidValue(type: .forwardBatch, field: "hidden states flag", value: Int64(flag), offset: flagOffset)
        }
        return WireForwardBatch(batch: batch, slot: slot, entries: entries, timings: timings, hiddenStates: hidden)
    }

    static func readHiddenStates(_ r: inout ByteReader) throws(WireError) -> WireHiddenStates {
        let dtype = try r.dtype("hidden states dtype")
        let shapeOffset = r.offset
        let rows = try r.u32("hidden states rows")
        let width = try r.u32("hidden states width")
        let elements = UInt64(rows) * UInt64(width)   // < 2^64: both factors < 2^32
        let (bytes, overflow) = elements.multipliedReportingOverflow(by: UInt64(dtype.byteWidth))
        guard !overflow, bytes <= UInt64(r.remaining) else {
            throw .countTooLarge(type: .forwardBatch, field: "hidden states \(rows) × \(width) \(dtype)",
                                 count: elements, offset: shapeOffset, bytesLeft: r.remaining)
        }
        let data = try r.bytes(Int(bytes), "hidden states data")
        return WireHiddenStates(dtype: dtype, rows: Int(rows), width: Int(width),
                                values: ActivationConversion.decode(data, as: dtype, count: Int(elements)))
    }

    static func readSampledTokens(_ r: inout ByteReader) throws(WireError) -> WireSampledTokens {
        let batch = BatchID(try r.u64("batch id"))
        let slot = MicroBatchSlot(try r.u32("slot"))
        let n = try r.count("sampled tokens", minElementSize: sampledTokenMinSize)
        var tokens: [WireSampledToken] = []
        tokens.reserveCapacity(n)
        for _ in 0 ..< n {
            let seq = SequenceID(try r.u64("sequence id"))
            let token = try r.i32("token")
            let logprob = try r.f32("logprob")
            let flagsOffset = r.offset
            let flags = try r.u8("sampled token flags")
            guard flags <= 1 else {
                throw .invalidValue(type: .sampledTokens, field: "sampled token flags", value: Int64(flags), offset: flagsOffset)
            }
            let k = try r.count("top logprobs", minElementSize: 8, width: 1)
            var top: [WireTopLogprob] = []
            top.reserveCapacity(k)
            for _ in 0 ..< k {
                top.append(WireTopLogprob(token: try r.i32("top logprob token"), logprob: try r.f32("top logprob")))
            }
            tokens.append(WireSampledToken(sequence: seq, token: token, logprob: logprob, topLogprobs: top, constraintDead: flags == 1))
        }
        let timings = try readTimings(&r)
        return WireSampledTokens(batch: batch, slot: slot, tokens: tokens, timings: timings)
    }
}
