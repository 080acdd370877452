import Foundation
import Scheduling
import WireProtocol

/// Crash and hang recovery, and repartitioning: all of it restarts the ring and recomputes the
/// running sequences from their tokens (sampling depends only on seed and token index, and a
/// forward pass gives the same bits however a sequence's tokens are batched, so the text is what
/// it would have been without the restart).
extension PipelineEngine {
    /// Sends a heartbeat when the ring has been idle, and treats a silent ring as hung.
    func watchLiveness() {
        guard let ring else { return }
        let t = Self.seconds()
        switch liveness.verdict(at: t, workOutstanding: !core.inFlight.isEmpty) {
        case .alive:
            break
        case .sendHeartbeat:
            heartbeatNumber += 1
            liveness.heartbeatSent(at: t)
            do { try ring.send(.heartbeat(WireHeartbeat(sequenceNumber: heartbeatNumber, sentAtNanoseconds: now()))) } catch {
                recover(from: "cannot send to stage 0: \(error)")
            }
        case let .hung(silent):
            let stopped = ring.stoppedStages
            let who = stopped.isEmpty ? "a stage" : "stage \(stopped.map(String.init).joined(separator: ", ")) (stopped)"
            recover(from: "no answer from the pipeline for \(String(format: "%.1f", silent)) s: \(who) hung")
        }
    }

    /// Tears the broken ring down, sends every running sequence back to the queue, and restarts
    /// the ring with the same configuration — unless the restart budget is spent, then the
    /// service fails (every request fails; the daemon exits non-zero).
    func recover(from reason: String) {
        logger.error("pipeline failed; restarting the stages", metadata: ["error": "\(reason)"])
        setStatus(.recovering(reason))
        publishSnapshot()
        ring?.kill()
        ring = nil
        let requeued = core.requeueRunning()
        lock.lock(); snapshotValue.recomputedSequences += requeued; lock.unlock()
        var why = reason
        while true {
            guard budget.allow(at: Self.seconds()) else {
                failService("\(policy.maxRestarts + 1) stage failures within \(Int(policy.restartWindowSeconds)) s (recovery.max_restarts is \(policy.maxRestarts)); last: \(why)")
                return
            }
            lock.lock(); snapshotValue.restarts += 1; lock.unlock()
            do {
                try bringUp(ringConfiguration)
                setStatus(.ready)
                logger.notice("pipeline restarted", metadata: ["recomputing": "\(requeued)", "restarts": "\(budget.restarts.count)"])
                return
            } catch {
                why = "restart failed: \(error)"
                logger.error("pipeline restart failed", metadata: ["error": "\(error)"])
                usleep(200_000)
            }
        }
    }

    /// Drained: restarts the ring with the new partition (or, if it cannot start, the old one).
    func applyReconfiguration(_ r: Reconfiguration) {
        let old = ringConfiguration
        logger.notice("applying a new partition", metadata: ["pipeline.stages": "\(r.ring.stages.count)",
                                                            "pipeline.micro_batches": "\(r.microBatches)"])
        setStatus(.recovering("applying a new partition: restarting the stages"))
        ring?.shutdown(graceSeconds: 2)
        ring = nil
        let requeued = core.requeueRunning()
        do {
            try core.scheduler.resize(microBatches: r.microBatches, prefillChunkTokens: r.prefillChunkTokens)
            try bringUp(r.ring)
            lock.lock(); snapshotValue.reconfigurations += 1; snapshotValue.recomputedSequences += requeued; lock.unlock()
            setStatus(.ready)
            logger.notice("new partition applied", metadata: ["pipeline.layers": "\(r.ring.stages.map(\.layers.count))",
                                                              "recomputing": "\(requeued)"])
            r.done(.success(()))
        } catch {
            logger.error("the new partition could not start; restarting the previous one", metadata: ["error": "\(error)"])
            r.done(.failure(error))
            ringConfiguration = old
            recover(from: "the new partition could not start: \(error)")
        }
    }

    /// Gives up: every request fails, new ones are refused, status says why.
    func failService(_ reason: String) {
        logger.critical("pipeline failed for good", metadata: ["error": "\(reason)"])
        setStatus(.failed(reason))
        perform(core.fail(reason))
    }
}
