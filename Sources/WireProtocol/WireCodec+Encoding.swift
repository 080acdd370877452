// Payload writers; the layouts they produce are drawn in WireCodec+Decoding.swift.

extension WireCodec {
    static func writePayload(_ m: WireMessage, into w: inout ByteWriter) {
        switch m {
        case let .hello(h):
            w.u16(h.protocolVersion)
            w.u64(h.model.fileSize)
            w.u64(h.model.metadataHash)
            w.u16(h.stageCount)
            w.i32(h.receiver.wireValue)
            w.u32(h.layerRange.lowerBound)
            w.u32(h.layerRange.upperBound)
            w.u8(h.activationDType.rawValue)
            w.i32(h.sender.wireValue)
        case let .helloAck(a):
            w.i32(a.receiver.wireValue)
            w.i32(a.pid)
        case let .forwardBatch(b):
            writeForwardBatchPrefix(b, into: &w)
            if let h = b.hiddenStates {
                writeHiddenStates(h, into: &w)
            } else {
                w.u8(0)
            }
        case let .sampledTokens(s):
            w.u64(s.batch.rawValue)
            w.u32(s.slot.rawValue)
            w.count(s.tokens.count)
            for t in s.tokens {
                w.u64(t.sequence.rawValue)
                w.i32(t.token)
                w.f32(t.logprob)
                precondition(t.topLogprobs.count <= 255, "at most 255 top logprobs per token")
                w.u8(t.constraintDead ? 1 : 0)
                w.u8(UInt8(t.topLogprobs.count))
                for alt in t.topLogprobs {
                    w.i32(alt.token)
                    w.f32(alt.logprob)
                }
            }
            writeTimings(s.timings, into: &w)
        case let .freeSequences(ids):
            w.count(ids.count)
            for id in ids { w.u64(id.rawValue) }
        case let .dropBlocks(names):
            w.count(names.count)
            for n in names { w.u64(n) }
        case .reset, .shutdown:
            break
        case let .heartbeat(h):
            w.u64(h.sequenceNumber)
            w.u64(h.sentAtNanoseconds)
        case let .error(e):
            w.i32(e.origin.wireValue)
            w.u16(e.code.rawValue)
            w.u64(e.batch?.rawValue ?? 0)
            let utf8 = Array(WireErrorReport.truncated(e.message).utf8)
            w.count(utf8.count)
            utf8.withUnsafeBytes { w.raw($0) }
        }
    }

    /// Everything of a forwardBatch payload before the hidden-states presence flag.
    static func writeForwardBatchPrefix(_ b: WireForwardBatch, into w: inout ByteWriter) {
        w.u64(b.batch.rawValue)
        w.u32(b.slot.rawValue)
        w.count(b.entries.count)
        for e in b.entries {
            w.u64(e.sequence.rawValue)
            w.u32(e.startPosition)
            w.u32(e.count)
            w.u8(e.logits.rawValue)
            w.count(e.tokens.count)
            w.i32Array(e.tokens)
            let s = e.sampling
            w.f32(s.temperature)
            w.i32(Int32(clamping: s.topK))
            w.f32(s.topP)
            w.f32(s.minP)
            w.f32(s.repetitionPenalty)
            w.f32(s.presencePenalty)
            w.f32(s.frequencyPenalty)
            w.i32(Int32(clamping: s.penaltyWindow))
            w.u64(s.seed)
            w.u32(e.tokenIndex)
            w.u8(e.topLogprobs)
            let label = Array(e.requestLabel.utf8)
            w.count(label.count)
            label.withUnsafeBytes { w.raw($0) }
            writeBlocks(e.restoreBlocks, into: &w)
            writeBlocks(e.storeBlocks, into: &w)
            writeConstraint(e.constraint, into: &w)
        }
        writeTimings(b.timings, into: &w)
    }

    static func writeBlocks(_ blocks: [WireBlockRef], into w: inout ByteWriter) {
        w.count(blocks.count)
        for b in blocks {
            w.u64(b.name)
            w.u32(b.startPosition)
            w.u32(b.count)
        }
    }

    static func writeConstraint(_ c: WireConstraint?, into w: inout ByteWriter) {
        guard let c else {
            w.u8(0)
            return
        }
        precondition(c.sourceByteCount <= WireConstraint.maxSourceBytes,
                     "constraint source of \(c.sourceByteCount) bytes exceeds \(WireConstraint.maxSourceBytes)")
        w.u8(c.kindTag)
        w.u8(c.flags)
        w.u32(c.promptLength)
        let source: [UInt8]
        switch c.constraint {
        case .jsonObject: source = []
        case let .jsonSchema(schema, _): source = Array(schema.utf8)
        case let .grammar(text): source = Array(text.utf8)
        }
        w.count(source.count)
        source.withUnsafeBytes { w.raw($0) }
    }

    static func writeTimings(_ timings: [WireStageTiming], into w: inout ByteWriter) {
        w.count(timings.count)
        for t in timings {
            w.u16(t.stage.rawValue)
            w.u64(t.waitNanoseconds)
            w.u64(t.computeNanoseconds)
            w.u64(t.finishedAtNanoseconds)
        }
    }

    static func writeHiddenStates(_ h: WireHiddenStates, into w: inout ByteWriter) {
        precondition(h.rows >= 0 && h.width >= 0 && h.rows <= Int(UInt32.max) && h.width <= Int(UInt32.max)
            && h.rows.multipliedReportingOverflow(by: h.width) == (h.values.count, false),
            "hidden states hold \(h.values.count) values, shape is \(h.rows) × \(h.width)")
        w.u8(1)
        w.u8(h.dtype.rawValue)
        w.u32(UInt32(h.rows))
        w.u32(UInt32(h.width))
        let dst = w.space(h.values.count * h.dtype.byteWidth)
        h.values.withUnsafeBufferPointer { ActivationConversion.encode($0, as: h.dtype, into: dst) }
    }
}
