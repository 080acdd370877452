import Coordinator
import Foundation
import Logging
import ServiceLifecycle

/// Starts the engine (which spawns the stages), marks the API ready, watches for the engine
/// giving up (restart budget spent: the service then ends with an error, so the daemon exits
/// non-zero and systemd can act), and on shutdown stops it. Event-driven: it waits for the
/// engine's status to turn failed or for the graceful shutdown, whichever comes first.
public struct PipelineService: Service {
    let engine: PipelineEngine
    let adapter: PipelineInferenceEngine
    let trace: String?
    let logger: Logger

    public init(engine: PipelineEngine, adapter: PipelineInferenceEngine, trace: String?, logger: Logger) {
        self.engine = engine
        self.adapter = adapter
        self.trace = trace
        self.logger = logger
    }

    public func run() async throws {
        do {
            try await withCheckedThrowingContinuation { (cont: CheckedContinuation<Void, any Error>) in
                // start() blocks until the stages are up: keep it off the cooperative pool.
                let t = Thread { [engine] in
                    do { try engine.start(); cont.resume() } catch { cont.resume(throwing: error) }
                }
                t.name = "pipeserve-start"
                t.start()
            }
        } catch {
            adapter.setState(.loading("failed to start: \(error)"))
            throw ServingError("cannot start the pipeline: \(error)")
        }
        let (failures, failed) = AsyncStream<String>.makeStream(bufferingPolicy: .bufferingNewest(1))
        engine.onStatusChange { status in
            if case let .failed(why) = status { failed.yield(why) }
        }
        if let why = engine.failure { failed.yield(why) }
        adapter.setState(.ready(engine))
        let snap = engine.snapshot
        logger.info("pipeline ready", metadata: ["pipeline.stages": "\(snap.stageLayers.count)", "pipeline.micro_batches": "\(snap.microBatches)"])
        var failure: String?
        for await why in failures.cancelOnGracefulShutdown() {
            failure = why
            break
        }
        adapter.setState(.stopping)
        engine.stop()
        adapter.finishHealthChanges()
        if let trace { try? engine.traceJSON().write(toFile: trace, atomically: true, encoding: .utf8) }
        if let failure { throw ServingError("the pipeline failed: \(failure)") }
        logger.info("pipeline stopped")
    }
}
