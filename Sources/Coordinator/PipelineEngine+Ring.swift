import Foundation
import Scheduling
import ServingTypes
import Tokenization
import WireProtocol

/// The engine's traffic with its ring: starting one, sending batches, applying what returns.
extension PipelineEngine {
    /// Spawns and links a ring for `configuration` on the engine thread and starts its receiver.
    func bringUp(_ configuration: RingConfiguration) throws {
        let newRing = try launcher.start(configuration, logger)
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
        snapshotValue.stagePIDs = newRing.stageIDs
        lock.unlock()
        startReceiver(newRing, generation: generation)
    }

    private func startReceiver(_ ring: any RingExecutor, generation: Int) {
        let t = Thread { [weak self] in
            while true {
                do {
                    let m = try ring.receive(timeout: nil)
                    self?.post(.ring(m, generation: generation))
                } catch {
                    guard let self else { return }
                    // The link usually breaks because a stage died: give its exit a moment to be
                    // seen so the failure names the stage (the one that died, not a neighbour that
                    // left cleanly when its link closed).
                    let exited = ring.waitForExitCause(seconds: 0.5)
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
        guard ring != nil else { return }
        let wasIdle = core.inFlight.isEmpty
        let actions = core.nextBatches(at: now())
        if actions.contains(where: { if case .send(.forwardBatch) = $0 { true } else { false } }) {
            liveness.sent(at: Self.seconds(), wasIdle: wasIdle)
        }
        perform(actions)
    }

    func handleRing(_ m: WireMessage) {
        switch m {
        case let .sampledTokens(t):
            let receivedAt = now()
            guard let (actions, returned) = core.sampled(t, at: receivedAt) else { return }
            record(timings: t.timings, planned: returned.batch, sampledTokens: returned.sampledTokens, sentAt: returned.sentAt,
                   receivedAt: receivedAt)
            perform(actions)
        case let .error(report):
            // A stage that rejects one batch (the report names it) fails that batch's requests; the
            // ring and every other request go on. Any other report means the ring cannot be trusted.
            if let (actions, planned, sentAt) = core.batchFailed(report) {
                lock.lock()
                snapshotValue.decodePhase.record(planned, sampledTokens: 0, sentAt: sentAt, returnedAt: now())
                lock.unlock()
                logger.warning("a stage rejected a batch", metadata: [
                    "batch.id": "\(planned.id.rawValue)", "error": "\(report.origin): \(report.message)",
                    "request.id": "\(Set(planned.entries.compactMap { core.sequences[$0.sequence]?.request.requestID.rawValue }).sorted())",
                ])
                perform(actions)
            } else {
                post(.ringFailed("\(report.origin): \(report.message)", generation: generation))
            }
        default:
            break  // echoes of free/reset/heartbeat that went round the ring
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
            // Prefix cache: positions this batch's sequences took from cached blocks, per request.
            let restored = planned.entries.filter { !$0.restoreBlocks.isEmpty }
            // What the batch carried: decodes, prompt tokens and how deep in its prompt the deepest
            // chunk started (attention over a long context makes a chunk dearer).
            let chunks = planned.entries.filter(\.isPrefill)
            var extra: [(String, TraceRecorder.Argument)] = [
                ("decodes", .int(Int64(planned.entries.count - chunks.count))),
                ("prompt_tokens", .int(Int64(chunks.reduce(0) { $0 + $1.tokens.count }))),
            ]
            if let deepest = chunks.map(\.startPosition).max() { extra.append(("chunk_start", .int(Int64(deepest)))) }
            if !restored.isEmpty {
                extra.append(("cached_tokens", .int(Int64(restored.reduce(0) { $0 + $1.startPosition }))))
                extra.append(("cached_by_request", .string(restored.map {
                    "\(core.sequences[$0.sequence]?.request.requestID.rawValue ?? "\($0.sequence)")=\($0.startPosition)"
                }.joined(separator: " "))))
            }
            let stored = planned.entries.reduce(0) { $0 + $1.storeBlocks.count }
            if stored > 0 { extra.append(("stored_blocks", .int(Int64(stored)))) }
            trace?.batchSpan(name: "in flight", category: "coordinator", track: .coordinator, batch: planned.id, slot: planned.slot,
                             tokens: planned.tokenCount, startNanoseconds: sentAt, durationNanoseconds: receivedAt - sentAt, extra: extra)
        }
        lock.unlock()
    }
}
