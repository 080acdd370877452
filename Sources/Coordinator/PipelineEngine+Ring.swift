import Foundation
import Scheduling
import ServingTypes
import Tokenization
import WireProtocol

/// The engine's traffic with its ring: starting one, sending batches, applying what returns.
extension PipelineEngine {
    /// Spawns and links a ring for `configuration` on the engine thread and starts its receiver.
    func bringUp(_ configuration: RingConfiguration) throws {
        let newRing = try StageRing(configuration: configuration, logger: logger)
        generation += 1
        ring = newRing
        ringConfiguration = configuration
        liveness = RingLiveness(timeout: policy.heartbeatTimeoutSeconds, now: Self.seconds())
        // Per-stage telemetry, trace tracks and counters start over when the stage count changes.
        let stages = configuration.stages.count
        let resized = telemetry.stageCount != stages
        if resized { telemetry = PipelineTelemetry(stageCount: stages, window: .nanoseconds(10_000_000_000)) }
        lock.lock()
        if resized {
            if trace != nil { trace = TraceRecorder(stageCount: stages) }
            snapshotValue.stageComputeNanoseconds = Array(repeating: 0, count: stages)
            snapshotValue.stageWaitNanoseconds = Array(repeating: 0, count: stages)
        }
        snapshotValue.stageLayers = configuration.stages.map(\.layers)
        snapshotValue.stagePIDs = newRing.processes.map(\.pid)
        lock.unlock()
        startReceiver(newRing, generation: generation)
    }

    private func startReceiver(_ ring: StageRing, generation: Int) {
        let t = Thread { [weak self] in
            while true {
                do {
                    let m = try ring.receive()
                    self?.post(.ring(m, generation: generation))
                } catch {
                    guard let self else { return }
                    // The link usually breaks because a stage died: give its exit a moment to be
                    // seen so the failure names the stage.
                    var exited = ring.exitedStage
                    for _ in 0..<50 where exited == nil {
                        usleep(10_000)
                        exited = ring.exitedStage
                    }
                    self.post(.ringFailed(exited.map { "stage \($0.index) exited with status \($0.status)" } ?? "pipeline link failed: \(error)",
                                          generation: generation))
                    return
                }
            }
        }
        t.name = "pipeserve-ring-rx"
        t.start()
    }

    func sendReadyBatches() {
        guard let ring else { return }
        for planned in scheduler.nextBatches() {
            do {
                if !planned.freeBefore.isEmpty {
                    try ring.send(.freeSequences(planned.freeBefore))
                }
                let entries = planned.entries.map { e -> WireBatchEntry in
                    let r = requests[e.sequence]?.request
                    return WireBatchEntry(sequence: e.sequence, startPosition: UInt32(e.startPosition),
                                          count: UInt32(e.tokens.count), logits: e.wantsSample ? .last : .none, tokens: e.tokens,
                                          sampling: r?.sampling ?? SamplingParameters(), tokenIndex: UInt32(e.tokenIndex),
                                          topLogprobs: UInt8(clamping: r?.topLogprobs ?? 0))
                }
                liveness.sent(at: Self.seconds(), wasIdle: inFlight.isEmpty)
                inFlight[planned.id.rawValue] = (planned, now())
                try ring.send(.forwardBatch(WireForwardBatch(batch: WireProtocol.BatchID(planned.id.rawValue),
                                                             slot: MicroBatchSlot(UInt32(planned.slot.rawValue)), entries: entries)))
            } catch {
                post(.ringFailed("cannot send to stage 0: \(error)", generation: generation))
                return
            }
        }
    }

    func handleRing(_ m: WireMessage) {
        switch m {
        case let .sampledTokens(t):
            guard let (planned, sentAt) = inFlight.removeValue(forKey: t.batch.rawValue) else { return }
            let received = now()
            let bySequence = Dictionary(uniqueKeysWithValues: planned.entries.map { ($0.sequence, $0) })
            var samples: [SampledToken] = []
            var stoppedByString: [SequenceID] = []
            for s in t.tokens {
                guard let entry = bySequence[s.sequence], var live = requests[entry.sequence] else { continue }
                live.handler(.token(s.token, index: entry.tokenIndex, logprob: s.logprob.isNaN ? nil : s.logprob, top: s.topLogprobs))
                // An end-of-generation token's text is never shown; the scheduler ends the sequence.
                if !live.stopTokens.contains(s.token) {
                    let text = live.output.append(s.token)
                    if !text.isEmpty { live.handler(.text(text)) }
                    if live.output.stopped { stoppedByString.append(entry.sequence) }
                }
                requests[entry.sequence] = live
                samples.append(SampledToken(sequence: s.sequence, token: s.token))
            }
            record(timings: t.timings, planned: planned, sampledTokens: samples.count, sentAt: sentAt, receivedAt: received)
            apply(scheduler.complete(batch: planned.id, samples: samples))
            // A stop string in the text ends the sequence (if max_tokens did not already).
            for id in stoppedByString where requests[id] != nil { apply(scheduler.stop(id)) }
        case let .error(report):
            // A stage that rejects one batch (the report names it) fails that batch's requests; the
            // ring and every other request go on. Any other report means the ring cannot be trusted.
            if let id = report.batch?.rawValue, let (planned, sentAt) = inFlight.removeValue(forKey: id) {
                lock.lock()
                snapshotValue.decodePhase.record(planned, sampledTokens: 0, sentAt: sentAt, returnedAt: now())
                lock.unlock()
                failBatch(planned, reason: "\(report.origin): \(report.message)")
            } else {
                post(.ringFailed("\(report.origin): \(report.message)", generation: generation))
            }
        default:
            break  // echoes of free/reset/heartbeat that went round the ring
        }
    }

    /// Fails every request that had a sequence in `planned`, frees their KV everywhere, and clears
    /// the slot so it schedules again.
    private func failBatch(_ planned: PlannedBatch, reason: String) {
        logger.error("a stage rejected a batch", metadata: ["batch.id": "\(planned.id.rawValue)", "error": "\(reason)"])
        for request in Set(planned.entries.map(\.sequence)) {
            if let live = requests.removeValue(forKey: request) { live.handler(.failed(reason)) }
            apply(scheduler.cancel(request))
        }
        apply(scheduler.complete(batch: planned.id, samples: []))
    }

    func apply(_ events: [SchedulerEvent]) {
        for e in events {
            switch e {
            case .token:
                break  // already reported with its logprob when it arrived
            case let .finished(id, reason, usage):
                if var live = requests.removeValue(forKey: id) {
                    var reason = reason
                    if reason != .cancelled {
                        // The rest of the text, through the stop matcher; a stop string that
                        // matched on the last token makes the finish a stop, not a length.
                        let tail = live.output.finish()
                        if !tail.isEmpty { live.handler(.text(tail)) }
                        if live.output.stopped { reason = .stop }
                    }
                    live.handler(.finished(reason, usage))
                }
            case let .free(ids):
                try? ring?.send(.freeSequences(ids))
            }
        }
    }

    private func record(timings: [WireStageTiming], planned: PlannedBatch, sampledTokens: Int, sentAt: UInt64, receivedAt: UInt64) {
        let stageTimings = timings.map {
            PipelineTelemetry.StageTiming(stage: Int($0.stage.rawValue), waitNanoseconds: $0.waitNanoseconds,
                                          computeNanoseconds: $0.computeNanoseconds)
        }
        telemetry.recordBatch(stageTimings, finishedAtNanoseconds: receivedAt)
        lock.lock()
        for t in timings where Int(t.stage.rawValue) < snapshotValue.stageComputeNanoseconds.count {
            snapshotValue.stageComputeNanoseconds[Int(t.stage.rawValue)] += t.computeNanoseconds
            snapshotValue.stageWaitNanoseconds[Int(t.stage.rawValue)] += t.waitNanoseconds
        }
        snapshotValue.batches += 1
        snapshotValue.decodePhase.record(planned, sampledTokens: sampledTokens, sentAt: sentAt, returnedAt: receivedAt)
        let compute = timings.reduce(UInt64(0)) { $0 + $1.computeNanoseconds }
        let roundTrip = receivedAt > sentAt ? receivedAt - sentAt : 0
        snapshotValue.transportNanoseconds += roundTrip > compute ? roundTrip - compute : 0
        if trace != nil {
            for t in timings where t.finishedAtNanoseconds > t.computeNanoseconds {
                trace?.batchSpan(track: .stage(Int(t.stage.rawValue)), batch: planned.id, slot: planned.slot, tokens: planned.tokenCount,
                                 startNanoseconds: t.finishedAtNanoseconds - t.computeNanoseconds, durationNanoseconds: t.computeNanoseconds)
            }
            trace?.batchSpan(name: "in flight", category: "coordinator", track: .coordinator, batch: planned.id, slot: planned.slot,
                             tokens: planned.tokenCount, startNanoseconds: sentAt, durationNanoseconds: receivedAt - sentAt)
        }
        lock.unlock()
    }
}
