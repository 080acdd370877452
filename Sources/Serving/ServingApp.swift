import Coordinator
import Foundation
import GGUF
import Logging
import ModelRuntime
import Planning
import OpenAIServer
import Prometheus
import Scheduling
import ServeConfig
import ServiceLifecycle
import SystemdNotify
import Tokenization

/// The whole daemon built from a configuration (Hummingbird's App + build pattern): model and
/// tokenizer, partition, engine and its adapter, the HTTP application, the systemd notifier and
/// the SIGHUP reloader, run as one `ServiceGroup` ordered engine → HTTP → systemd, so SIGTERM
/// stops them in reverse: systemd hears STOPPING; HTTP answers new requests 503 until the running
/// ones have finished, then closes; then the stages stop.
public struct ServingApp {
    public let configuration: ServeConfiguration
    let read: Reloader.ConfigurationSource
    let registry: PrometheusCollectorRegistry
    let logger: Logger
    let onListening: @Sendable (_ host: String, _ port: Int) -> Void

    /// - Parameters:
    ///   - read: reads the configuration again on SIGHUP (the file, then the command line).
    ///   - registry: where /metrics reads from (the caller bootstraps swift-metrics with it).
    ///   - onListening: called once the HTTP listener is bound (the real port when 0 was asked).
    public init(configuration: ServeConfiguration, read: @escaping Reloader.ConfigurationSource, registry: PrometheusCollectorRegistry,
                logger: Logger, onListening: @escaping @Sendable (_ host: String, _ port: Int) -> Void = { _, _ in }) {
        self.configuration = configuration
        self.read = read
        self.registry = registry
        self.logger = logger
        self.onListening = onListening
    }

    /// Loads, starts and serves until SIGTERM/SIGINT (returns) or the pipeline fails (throws).
    public func run() async throws {
        let c = configuration
        let model = try LoadedModel(path: c.modelPath)
        let (file, h, tokenizer) = (model.file, model.hyperparameters, model.tokenizer)
        let planner = PartitionPlanner(file: file, hyperparameters: h)
        let settings = try PipelineSettings(c, planner: planner, logger: logger)
        let context = min(c.limits.contextLength ?? h.contextLength, h.contextLength)
        let schedulerConfig = SchedulerConfiguration(
            microBatches: settings.microBatches, maxBatchTokens: c.scheduler.maxBatchTokens,
            kvCacheTokens: max(c.scheduler.kvCacheTokens, context), maxQueue: c.scheduler.maxQueue,
            maxRunning: c.scheduler.maxRunning, contextLength: context, prefillChunkTokens: settings.prefillChunkTokens,
            decodeStallLimit: c.scheduler.decodeStallLimit,
            prefixCacheBlockTokens: c.scheduler.prefixCache ? Self.prefixBlockTokens(c.scheduler.kvBlockTokens, hyperparameters: h, logger: logger) : nil)

        let chat = ChatTemplateChoice(configured: c.chatTemplate, metadata: file.metadata, tokenizer: tokenizer)
        if let note = chat.note { logger.info("\(note)") }
        let servedName = c.servedModelName ?? (try? file.metadata.optionalString("general.name")) ?? URL(fileURLWithPath: c.modelPath).lastPathComponent
        let adapter = PipelineInferenceEngine(modelName: servedName, contextLength: context, tokenizer: tokenizer,
                                              chatTemplate: chat.template, chatTemplateProblem: chat.problem)
        var apiKeys: [String] = []
        if let keyFile = c.http.apiKeyFile {
            do { apiKeys = try APIKeyFile.read(path: keyFile) } catch { throw ServingError("\(error)") }
        }
        let serverConfig = OpenAIServerConfiguration(host: c.http.host, port: c.http.port, maxBodyBytes: c.http.maxBodyBytes,
                                                     apiKeys: apiKeys, requestTimeoutSeconds: c.http.requestTimeout,
                                                     maxN: c.limits.maxN, maxSequencesPerRequest: c.scheduler.maxQueue,
                                                     maxTokensLimit: c.limits.maxTokens)
        let host = c.http.host
        let drain = DrainState()
        let onListening = self.onListening
        let app = makeApplication(engine: adapter, configuration: serverConfig, metrics: OpenAIServerMetrics(registry: registry),
                                  drain: drain, logger: logger) { port in onListening(host, port) }
        let engine: PipelineEngine
        do {
            engine = try PipelineEngine(ringConfiguration: settings.ring, scheduler: schedulerConfig, tokenizer: tokenizer,
                                        recovery: RecoveryPolicy(maxRestarts: c.recovery.maxRestarts, restartWindowSeconds: c.recovery.restartWindow,
                                                                 heartbeatTimeoutSeconds: c.recovery.heartbeatTimeout),
                                        trace: c.trace != nil, logger: logger)
        } catch { throw ServingError("scheduler: \(error)") }
        let pipeline = PipelineService(engine: engine, adapter: adapter, trace: c.trace, logger: logger)
        let notifier = SystemdNotifier(environment: ProcessInfo.processInfo.environment)
        let port = c.http.port
        let describe: @Sendable () -> String = {
            "serving \(servedName) on \(host):\(port) with \(engine.snapshot.stageLayers.count) stages"
        }
        let systemd = SystemdService(notifier: notifier, adapter: adapter, describe: describe, logger: logger)
        let http = DrainingService(application: app, drain: drain, drainTimeoutSeconds: serverConfig.drainTimeoutSeconds, logger: logger)
        let group = ServiceGroup(configuration: .init(services: [.init(service: pipeline), .init(service: http), .init(service: systemd)],
                                                      gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        // SIGHUP re-reads the configuration and applies a changed partition live.
        let reloader = Reloader(read: read, running: c, settings: settings, planner: planner, engine: engine,
                                notifier: notifier, describe: describe, logger: logger)
        let hup = DispatchSource.makeSignalSource(signal: SIGHUP)
        signal(SIGHUP, SIG_IGN)
        hup.setEventHandler { reloader.reload() }
        hup.resume()
        defer { hup.cancel() }
        try await group.run()
    }

    /// The prefix-cache block size: the configured one, capped at the model's smallest sliding
    /// window (a stage copies a block right after computing its last position, when every
    /// sliding-window layer still holds the block only if it fits the window).
    static func prefixBlockTokens(_ configured: Int, hyperparameters h: Hyperparameters, logger: Logger) -> Int {
        guard let window = h.layers.compactMap(\.slidingWindow).min(), configured > window else { return configured }
        logger.warning("scheduler.kv_block_tokens capped at the model's sliding window",
                       metadata: ["configured": "\(configured)", "window": "\(window)"])
        return window
    }
}
