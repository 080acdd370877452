import Coordinator
import Foundation
import Logging
import ModelRuntime
import Planning
import ServeConfig
import SystemdNotify

/// SIGHUP: re-reads the configuration (the file, then the command line's overrides again). A
/// changed partition (stages, layers, micro-batches, threads, CPUs, NUMA, wire dtype) is applied
/// live by the engine, which drains and restarts the stages while queued requests wait; changes
/// elsewhere are reported as needing a restart; an invalid file keeps the running configuration.
public final class Reloader: @unchecked Sendable {
    // Sendable: `running` and `settings` are touched only on the SIGHUP handler's serial queue
    // and in the engine's completion, serialized by `lock`.
    /// Reads the configuration as at start (the file, then the command line's overrides) and
    /// returns it with warnings about it (e.g. more compute threads than CPUs); throws when it
    /// is invalid.
    public typealias ConfigurationSource = @Sendable () throws -> (ServeConfiguration, warnings: [String])
    private let read: ConfigurationSource
    private let planner: PartitionPlanner
    private let engine: PipelineEngine
    private let logger: Logger
    private let notifier: SystemdNotifier?
    private let describe: @Sendable () -> String
    private let lock = NSLock()
    private var running: ServeConfiguration
    private var settings: PipelineSettings
    private var queue = ReloadQueue()

    public init(read: @escaping ConfigurationSource, running: ServeConfiguration, settings: PipelineSettings, planner: PartitionPlanner,
                engine: PipelineEngine, notifier: SystemdNotifier?, describe: @escaping @Sendable () -> String, logger: Logger) {
        self.notifier = notifier
        self.describe = describe
        self.read = read
        self.running = running
        self.settings = settings
        self.planner = planner
        self.engine = engine
        self.logger = logger
    }

    /// systemd hears RELOADING=1 now and READY=1 when the reload is over, whatever its outcome.
    /// A SIGHUP during a reload is queued: the file is read again once the running one ends, so
    /// a burst of reloads ends on what the file says last.
    public func reload() {
        try? notifier?.reloading(status: "reloading the configuration")
        lock.lock()
        let request = queue.requested()
        lock.unlock()
        guard request == .start else {
            logger.notice("SIGHUP: a reload is being applied; the configuration will be read again when it ends")
            return
        }
        pass()
    }

    /// One reading of the file; then another if SIGHUPs came in meanwhile, else READY=1.
    private func pass() {
        logger.notice("SIGHUP: re-reading the configuration")
        reloadConfiguration { [self] in
            lock.lock()
            let next = queue.finished()
            lock.unlock()
            switch next {
            case .startAgain: DispatchQueue.global().async { self.pass() }
            case .idle: try? notifier?.ready(status: describe())
            }
        }
    }

    private func reloadConfiguration(finished: @escaping @Sendable () -> Void) {
        let next: ServeConfiguration
        let nextSettings: PipelineSettings
        do {
            let (configuration, warnings) = try read()
            next = configuration
            for warning in warnings { logger.warning("SIGHUP: \(warning)") }
            nextSettings = try PipelineSettings(next, planner: planner, logger: logger)
        } catch {
            logger.error("SIGHUP: \(error); keeping the running configuration")
            finished()
            return
        }
        lock.lock()
        let current = running
        let currentSettings = settings
        lock.unlock()
        for section in Self.restartOnlyChanges(from: current, to: next) {
            logger.warning("SIGHUP: \(section) changed; that takes effect at the next restart of the service")
        }
        guard nextSettings.differs(from: currentSettings) else {
            logger.notice("SIGHUP: the pipeline settings are unchanged")
            finished()
            return
        }
        let layers = nextSettings.ring.stages.map { "\($0.layers.count)" }.joined(separator: ",")
        logger.notice("SIGHUP: applying \(nextSettings.ring.stages.count) stages (layers \(layers)), \(nextSettings.microBatches) micro-batches")
        engine.reconfigure(nextSettings.ring, microBatches: nextSettings.microBatches,
                           prefillChunkTokens: nextSettings.prefillChunkTokens) { [self] result in
            switch result {
            case .success:
                lock.lock()
                running.pipeline = next.pipeline
                settings = nextSettings
                lock.unlock()
                logger.notice("SIGHUP: new partition running")
            case let .failure(error):
                logger.error("SIGHUP: the new partition could not be applied: \(error); the previous one runs again")
            }
            finished()
        }
    }

    /// Sections whose change is not applied live.
    public static func restartOnlyChanges(from a: ServeConfiguration, to b: ServeConfiguration) -> [String] {
        var out: [String] = []
        if a.model != b.model { out.append("model") }
        if a.servedModelName != b.servedModelName { out.append("served_model_name") }
        if a.http != b.http { out.append("http") }
        // prefill_chunk_tokens goes with the partition (reconfigure applies it; auto follows M).
        var sa = a.scheduler, sb = b.scheduler
        sa.prefillChunkTokens = nil
        sb.prefillChunkTokens = nil
        if sa != sb { out.append("scheduler") }
        if a.limits != b.limits { out.append("limits") }
        if a.recovery != b.recovery { out.append("recovery") }
        if a.chatTemplate != b.chatTemplate { out.append("chat_template") }
        if a.logging != b.logging { out.append("logging") }
        if a.trace != b.trace { out.append("trace") }
        return out
    }
}
