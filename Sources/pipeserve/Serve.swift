import ArgumentParser
import Coordinator
import Foundation
import GGUF
import Logging
import Metrics
import ModelRuntime
import OpenAIServer
import Planning
import Prometheus
import Scheduling
import ServeConfig
import ServiceLifecycle
import SystemdNotify
import Tokenization
import WireProtocol

/// `pipeserve serve`: the daemon — stages, scheduler and the OpenAI-compatible HTTP API.
struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the daemon: pipeline stages, scheduler and the OpenAI-compatible HTTP API.",
        discussion: """
            Reads the YAML configuration (see config/pipeserve.yaml); flags override it. /health answers 503 \
            until every stage is linked and ready, and while stages are restarted. SIGTERM or SIGINT stops \
            accepting requests, lets running ones finish, stops the stages and exits 0. SIGHUP re-reads the \
            configuration and applies a changed partition (stages, layers, micro-batches, threads, placement) \
            live; requests in flight are recomputed on the new stages. A stage that crashes or hangs is \
            restarted the same way; more than recovery.max_restarts within recovery.restart_window exits 1. \
            Prints "listening on http://HOST:PORT" on stderr once bound.
            """)

    @Option(help: "Configuration file.") var config: String?
    @Option(help: "Override: GGUF model path.") var model: String?
    @Option(help: "Override: bind address.") var host: String?
    @Option(help: "Override: port (0 = any free port).") var port: Int?
    @Option(help: "Override: number of stages.") var stages: Int?
    @Option(help: "Override: layer counts per stage, e.g. 10,8.") var layers: String?
    @Option(help: "Override: micro-batches in flight.") var microBatches: Int?
    @Option(help: "Override: threads per stage.") var threadsPerStage: Int?
    @Option(help: "Override: numa placement (off, auto, node list).") var numa: String?
    @Option(help: "Override: directory for the ring's socket directory.") var socketDir: String?
    @Option(help: "Override: log level.") var logLevel: String?

    func effectiveConfiguration() throws -> ServeConfiguration {
        var c = ServeConfiguration()
        if let config {
            do { c = try ConfigLoader.load(path: config) } catch let e as ConfigError { throw CLIError(e.description) }
        }
        if let model { c.model = model }
        if let host { c.http.host = host }
        if let port { c.http.port = port }
        if let stages { c.pipeline.stages = stages }
        if let layers { c.pipeline.layers = .counts(try parseLayerCounts(layers)) }
        if let microBatches { c.pipeline.microBatches = microBatches }
        if let threadsPerStage { c.pipeline.threadsPerStage = threadsPerStage }
        if let numa {
            switch try parseNUMAMode(numa) {
            case .off: c.pipeline.numa = .off
            case .auto: c.pipeline.numa = .auto
            case let .nodes(n): c.pipeline.numa = .nodes(n)
            }
        }
        if let socketDir { c.pipeline.socketDir = socketDir }
        if let logLevel { c.logging.level = logLevel }
        do { try ConfigLoader.validate(c) } catch let e as ConfigError { throw CLIError(e.description) }
        guard (0...65535).contains(c.http.port) else { throw CLIError("--port must be 0…65535") }
        guard (1...64).contains(c.pipeline.stages) else { throw CLIError("--stages must be 1…64") }
        return c
    }

    /// Compute threads against the CPUs this process may use: a warning past one per CPU, an
    /// error far beyond.
    func checkCPUs(_ c: ServeConfiguration) throws -> [String] {
        do { return try ConfigLoader.cpuCheck(c, usableCPUs: usableCPUCount(), file: config) } catch let e as ConfigError {
            throw CLIError(e.description)
        }
    }

    func run() async throws {
        try requireUTF8Arguments()
        let c = try effectiveConfiguration()
        let logger = makeLogger(level: c.logging.level)
        for warning in ConfigLoader.permissionWarnings(configPath: config, configuration: c) { logger.warning("\(warning)") }
        for warning in try checkCPUs(c) { logger.warning("\(warning)") }
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))

        let file = try openModel(c.modelPath)
        let h: Hyperparameters
        let tokenizer: Tokenizer
        do {
            h = try Hyperparameters(metadata: file.metadata, tensors: file.tensors)
            tokenizer = try Tokenizer(gguf: file)
        } catch { throw CLIError("\(c.modelPath): \(error)") }
        let planner = PartitionPlanner(file: file, hyperparameters: h)
        let settings = try PipelineSettings(c, planner: planner, logger: logger)
        let context = min(c.limits.contextLength ?? h.contextLength, h.contextLength)
        let schedulerConfig = SchedulerConfiguration(
            microBatches: settings.microBatches, maxBatchTokens: c.scheduler.maxBatchTokens,
            kvCacheTokens: max(c.scheduler.kvCacheTokens, context), maxQueue: c.scheduler.maxQueue,
            maxRunning: c.scheduler.maxRunning, contextLength: context, prefillChunkTokens: settings.prefillChunkTokens)

        var template: ChatTemplate?
        var templateProblem: String?
        if let name = c.chatTemplate { template = ChatTemplate(rawValue: name) } else {
            let jinja = (try? file.metadata.optionalString("tokenizer.chat_template")) ?? nil
            do { template = try ChatTemplate.recognise(jinja) } catch {
                if jinja == nil, let inferred = ChatTemplate.infer(fromVocabulary: tokenizer) {
                    template = inferred
                    logger.info("the model has no chat template; using \(inferred.rawValue), whose turn tokens are in its vocabulary")
                } else {
                    templateProblem = "\(error)"
                }
            }
        }
        let servedName = c.servedModelName ?? (try? file.metadata.optionalString("general.name")) ?? URL(fileURLWithPath: c.modelPath).lastPathComponent
        let adapter = PipelineInferenceEngine(modelName: servedName, contextLength: context, tokenizer: tokenizer,
                                              chatTemplate: template, chatTemplateProblem: templateProblem)
        var apiKeys: [String] = []
        if let keyFile = c.http.apiKeyFile {
            do { apiKeys = try APIKeyFile.read(path: keyFile) } catch let e as ConfigError { throw CLIError(e.description) }
        }
        let serverConfig = OpenAIServerConfiguration(host: c.http.host, port: c.http.port, maxBodyBytes: c.http.maxBodyBytes,
                                                     apiKeys: apiKeys, requestTimeoutSeconds: c.http.requestTimeout,
                                                     maxN: c.limits.maxN, maxSequencesPerRequest: c.scheduler.maxQueue,
                                                     maxTokensLimit: c.limits.maxTokens)
        let host = c.http.host
        let drain = DrainState()
        let app = makeApplication(engine: adapter, configuration: serverConfig, metrics: OpenAIServerMetrics(registry: registry),
                                  drain: drain, logger: logger) { port in
            FileHandle.standardError.write(Data("pipeserve: listening on http://\(host):\(port)\n".utf8))
        }
        let engine: PipelineEngine
        do {
            engine = try PipelineEngine(ringConfiguration: settings.ring, scheduler: schedulerConfig, tokenizer: tokenizer,
                                        recovery: RecoveryPolicy(maxRestarts: c.recovery.maxRestarts, restartWindowSeconds: c.recovery.restartWindow,
                                                                 heartbeatTimeoutSeconds: c.recovery.heartbeatTimeout),
                                        trace: c.trace != nil, logger: logger)
        } catch { throw CLIError("scheduler: \(error)") }
        let pipeline = PipelineService(engine: engine, adapter: adapter, trace: c.trace, logger: logger)
        let notifier = SystemdNotifier(environment: ProcessInfo.processInfo.environment)
        let describe: @Sendable () -> String = {
            "serving \(servedName) on \(host):\(c.http.port) with \(engine.snapshot.stageLayers.count) stages"
        }
        let systemd = SystemdService(notifier: notifier, adapter: adapter, describe: describe, logger: logger)
        // Shutdown runs in reverse: systemd hears STOPPING; HTTP answers new requests 503 until the
        // running ones have finished, then closes; then the stages stop.
        let http = DrainingService(application: app, drain: drain, drainTimeoutSeconds: serverConfig.drainTimeoutSeconds, logger: logger)
        let group = ServiceGroup(configuration: .init(services: [.init(service: pipeline), .init(service: http), .init(service: systemd)],
                                                      gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        // SIGHUP re-reads the configuration and applies a changed partition live.
        let reloader = Reloader(command: self, running: c, settings: settings, planner: planner, engine: engine,
                                notifier: notifier, describe: describe, logger: logger)
        let hup = DispatchSource.makeSignalSource(signal: SIGHUP)
        signal(SIGHUP, SIG_IGN)
        hup.setEventHandler { reloader.reload() }
        hup.resume()
        try await group.run()
        hup.cancel()
    }
}

/// Starts the engine (which spawns the stages), marks the API ready, watches for the engine
/// giving up (restart budget spent: the daemon then exits non-zero so systemd can act), and on
/// shutdown stops it.
struct PipelineService: Service {
    let engine: PipelineEngine
    let adapter: PipelineInferenceEngine
    let trace: String?
    let logger: Logger

    func run() async throws {
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
            logger.critical("cannot start the pipeline", metadata: ["error": "\(error)"])
            throw CLIError("cannot start the pipeline: \(error)")
        }
        adapter.setState(.ready(engine))
        let snap = engine.snapshot
        logger.info("pipeline ready", metadata: ["pipeline.stages": "\(snap.stageLayers.count)", "pipeline.micro_batches": "\(snap.microBatches)"])
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            if let why = engine.failure {
                engine.stop()
                throw CLIError("the pipeline failed: \(why)")
            }
            try? await Task.sleep(for: .milliseconds(200))
        }
        adapter.setState(.stopping)
        engine.stop()
        if let trace { try? engine.traceJSON().write(toFile: trace, atomically: true, encoding: .utf8) }
        logger.info("pipeline stopped")
    }
}
