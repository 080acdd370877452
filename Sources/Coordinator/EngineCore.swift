import Scheduling
import ServingTypes
import Tokenization
import WireProtocol

/// The engine's request and batch logic as a value type: admission, the micro-batches to send,
/// what a returning batch means for each sequence (tokens, text through its output processor,
/// stop strings, finish), failed batches, cancellation, recompute after a restart, and giving up.
/// No threads, sockets or clock: its methods take the time where it matters and return actions
/// that `PipelineEngine` (the runner) carries out in order — sending to stage 0, or telling a
/// sequence's handler. So the logic is tested step by step without processes (EngineCoreTests),
/// as the scheduler is.
struct EngineCore {
    /// Something the runner must do.
    enum Action: Sendable {
        /// Send this message to stage 0.
        case send(WireMessage)
        /// Tell the sequence's handler; `.finished`, `.failed` and `.refused` are its last event.
        case emit(SequenceID, PipelineEngine.Event)
    }

    /// A batch that came back, for telemetry.
    struct Returned {
        var batch: PlannedBatch
        var sentAt: UInt64
        var sampledTokens: Int
    }

    /// One admitted sequence.
    struct Live {
        var request: PipelineEngine.Request
        /// The tokens that end this sequence (the model's end-of-generation ids unless ignored).
        var stopTokens: Set<Int32>
        /// Detokenizer and stop strings: the text the client sees.
        var output: OutputProcessor
        /// The last stage found no token its output constraint allows: the sequence ends with
        /// `.length` (its output is incomplete, as when max_tokens cuts it).
        var constraintDead = false
    }

    let tokenizer: Tokenizer
    var scheduler: Scheduler
    private(set) var sequences: [SequenceID: Live] = [:]
    /// Batches in the ring by id, with when they were sent.
    private(set) var inFlight: [UInt64: (batch: PlannedBatch, sentAt: UInt64)] = [:]
    /// Set once the service has given up: every request is refused from then on.
    private(set) var failedReason: String?

    init(scheduler: Scheduler, tokenizer: Tokenizer) {
        self.scheduler = scheduler
        self.tokenizer = tokenizer
    }

    /// Queues a sequence, or refuses it (queue full, service failed) or fails it (invalid).
    mutating func submit(_ r: PipelineEngine.Request) -> [Action] {
        if let failedReason { return [.emit(r.id, .refused(failedReason, .unavailable))] }
        if let c = r.constraint, WireConstraint(constraint: c, promptLength: 0).sourceByteCount > WireConstraint.maxSourceBytes {
            return [.emit(r.id, .failed("the output constraint is longer than \(WireConstraint.maxSourceBytes) bytes"))]
        }
        // A constrained sequence's end-of-generation comes from the last stage only where the
        // constraint allows it (with ignore_eos only where nothing else may follow): it always ends.
        let stopTokens = r.stop.ignoreEOS && r.constraint == nil ? [] : tokenizer.eogIDs
        switch scheduler.submit(SequenceRequest(id: r.id, prompt: r.prompt, maxTokens: r.stop.maxTokens, stopTokenIDs: stopTokens)) {
        case .queued:
            sequences[r.id] = Live(request: r, stopTokens: stopTokens,
                                   output: OutputProcessor(tokenizer: tokenizer, stopStrings: r.stop.stopStrings))
            return []
        case let .rejected(why):
            if case .queueFull = why { return [.emit(r.id, .refused("\(why)", .queueFull))] }
            return [.emit(r.id, .failed("\(why)"))]
        }
    }

    /// Ends a sequence at once (the client went away); its KV is freed on every stage.
    mutating func cancel(_ id: SequenceID) -> [Action] {
        apply(scheduler.cancel(id))
    }

    /// The batches the scheduler wants sent now, as messages (frees first, in-band).
    mutating func nextBatches(at now: UInt64) -> [Action] {
        var actions: [Action] = []
        for planned in scheduler.nextBatches() {
            if !planned.freeBefore.isEmpty { actions.append(.send(.freeSequences(planned.freeBefore))) }
            if !planned.dropBefore.isEmpty { actions.append(.send(.dropBlocks(planned.dropBefore.map(\.rawValue)))) }
            let entries = planned.entries.map { e -> WireBatchEntry in
                let r = sequences[e.sequence]?.request
                // A sequence's first entry of an admission (fresh, or restoring cached blocks)
                // carries what the stages keep for it until it is freed: its label and constraint.
                let first = e.startPosition == 0 || !e.restoreBlocks.isEmpty
                let constraint = first ? r.flatMap { r in
                    r.constraint.map { WireConstraint(constraint: $0, promptLength: UInt32(r.prompt.count), ignoresEOS: r.stop.ignoreEOS) }
                } : nil
                return WireBatchEntry(sequence: e.sequence, startPosition: UInt32(e.startPosition),
                                      count: UInt32(e.tokens.count), logits: e.wantsSample ? .last : .none, tokens: e.tokens,
                                      sampling: r?.sampling ?? SamplingParameters(), tokenIndex: UInt32(e.tokenIndex),
                                      topLogprobs: UInt8(clamping: r?.topLogprobs ?? 0),
                                      requestLabel: first ? (r?.requestID.rawValue ?? "") : "",
                                      restoreBlocks: e.restoreBlocks.map(\.wire), storeBlocks: e.storeBlocks.map(\.wire),
                                      constraint: constraint)
            }
            inFlight[planned.id.rawValue] = (planned, now)
            actions.append(.send(.forwardBatch(WireForwardBatch(batch: WireProtocol.BatchID(planned.id.rawValue),
                                                                slot: MicroBatchSlot(UInt32(planned.slot.rawValue)), entries: entries))))
        }
        return actions
    }

    /// A batch's sampled tokens came back: per sequence a `.token` (with its logprob), the text it
    /// makes safe, and the end when a stop token, stop string, max_tokens or the context says so.
    /// Returns nil for a batch that is not in flight (stale after a restart). `now` is when it
    /// came back (monotonic ns): the stall guard paces prompt chunks by it.
    mutating func sampled(_ t: WireSampledTokens, at now: UInt64) -> (actions: [Action], returned: Returned)? {
        guard let (planned, sentAt) = inFlight.removeValue(forKey: t.batch.rawValue) else { return nil }
        let bySequence = Dictionary(uniqueKeysWithValues: planned.entries.map { ($0.sequence, $0) })
        var actions: [Action] = []
        var samples: [SampledToken] = []
        var stoppedByString: [SequenceID] = []
        for s in t.tokens {
            guard let entry = bySequence[s.sequence], var live = sequences[entry.sequence] else { continue }
            actions.append(.emit(entry.sequence, .token(s.token, index: entry.tokenIndex, logprob: s.logprob.isNaN ? nil : s.logprob,
                                                        top: s.topLogprobs)))
            if s.constraintDead {
                // Its token only stands in (an end-of-generation id): no text, and the sequence ends.
                live.constraintDead = true
                stoppedByString.append(entry.sequence)
            } else if !live.stopTokens.contains(s.token) {
                // An end-of-generation token's text is never shown; the scheduler ends the sequence.
                let text = live.output.append(s.token)
                if !text.isEmpty { actions.append(.emit(entry.sequence, .text(text))) }
                if live.output.stopped { stoppedByString.append(entry.sequence) }
            }
            sequences[entry.sequence] = live
            samples.append(SampledToken(sequence: s.sequence, token: s.token))
        }
        scheduler.recordReturn(of: planned, atNanoseconds: now)
        actions += apply(scheduler.complete(batch: planned.id, samples: samples))
        // A stop string in the text (or a dead constraint) ends the sequence (if max_tokens or
        // its stop token did not already).
        for id in stoppedByString where sequences[id] != nil { actions += apply(scheduler.stop(id)) }
        return (actions, Returned(batch: planned, sentAt: sentAt, sampledTokens: samples.count))
    }

    /// A stage could not run the batch it names: that batch's sequences fail, their KV is freed,
    /// the slot schedules again; the ring and every other sequence go on. The blocks the batch
    /// stored are forgotten (the stages after the failing one never stored them). When the stage
    /// lacked a prefix-cache block it was to restore, nothing of the batch ran and its sequences
    /// are innocent: they go back to the queue to be recomputed (the block is forgotten), as
    /// after a lost batch. Returns nil when the report names no batch in flight: then the ring
    /// itself cannot be trusted.
    mutating func batchFailed(_ report: WireErrorReport) -> (actions: [Action], batch: PlannedBatch, sentAt: UInt64)? {
        guard let id = report.batch?.rawValue, let (planned, sentAt) = inFlight.removeValue(forKey: id) else { return nil }
        if report.code == .blockMissing {
            scheduler.forgetBlocks(of: planned, restored: true)
            return (apply(scheduler.failSlot(planned.slot)), planned, sentAt)
        }
        scheduler.forgetBlocks(of: planned)
        let reason = "\(report.origin): \(report.message)"
        var actions: [Action] = []
        for sequence in Set(planned.entries.map(\.sequence)) {
            if sequences.removeValue(forKey: sequence) != nil { actions.append(.emit(sequence, .failed(reason))) }
            actions += apply(scheduler.cancel(sequence))
        }
        actions += apply(scheduler.complete(batch: planned.id, samples: []))
        return (actions, planned, sentAt)
    }

    /// The ring is gone (crash, hang, new partition): every running sequence goes back to the
    /// queue with its tokens, to be recomputed on the next ring; returns how many.
    mutating func requeueRunning() -> Int {
        let running = scheduler.runningCount
        _ = scheduler.failAll()  // its frees name KV of the old ring, which is gone
        inFlight.removeAll()
        return running
    }

    /// Gives up for good: every sequence is refused, and so is every later submission.
    mutating func fail(_ reason: String) -> [Action] {
        failedReason = reason
        var actions: [Action] = []
        for id in sequences.keys.sorted() {
            actions.append(.emit(id, .refused(reason, .unavailable)))
            _ = scheduler.cancel(id)
        }
        sequences.removeAll()
        inFlight.removeAll()
        return actions
    }

    /// The engine stops: every sequence hears it.
    mutating func stop() -> [Action] {
        defer { sequences.removeAll() }
        return sequences.keys.sorted().map { .emit($0, .refused("engine stopped", .unavailable)) }
    }

    /// Turns scheduler events into actions: ends through the output processor (the rest of the
    /// text passes the stop matcher; a stop string on the last token makes it a stop), frees as
    /// in-band messages.
    private mutating func apply(_ events: [SchedulerEvent]) -> [Action] {
        var actions: [Action] = []
        for e in events {
            switch e {
            case .token:
                break  // reported with its logprob when it arrived
            case let .finished(id, reason, usage):
                guard var live = sequences.removeValue(forKey: id) else { continue }
                var reason = reason
                if reason != .cancelled {
                    let tail = live.output.finish()
                    if !tail.isEmpty { actions.append(.emit(id, .text(tail))) }
                    if live.output.stopped { reason = .stop }
                    if live.constraintDead { reason = .length }
                }
                actions.append(.emit(id, .finished(reason, usage)))
            case let .free(ids):
                actions.append(.send(.freeSequences(ids)))
            }
        }
        return actions
    }
}

extension BlockRef {
    var wire: WireBlockRef {
        WireBlockRef(name: name.rawValue, startPosition: UInt32(startPosition), count: UInt32(count))
    }
}
