import ArgumentParser
import Coordinator
import Foundation
import Serving
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

    /// Compute threads against the CPUs this process may use (a warning past one per CPU, an
    /// error far beyond) and settings that cost speed (`ConfigLoader.pipelineAdvice`).
    func configurationWarnings(_ c: ServeConfiguration) throws -> [String] {
        do {
            return try ConfigLoader.cpuCheck(c, usableCPUs: Machine.usableCPUCount(), file: config) + ConfigLoader.pipelineAdvice(c)
        } catch let e as ConfigError {
            throw CLIError(e.description)
        }
    }

    func run() async throws {
        try requireUTF8Arguments()
        let c = try effectiveConfiguration()
        let logger = makeLogger(level: c.logging.level)
        for warning in ConfigLoader.permissionWarnings(configPath: config, configuration: c) { logger.warning("\(warning)") }
        for warning in try configurationWarnings(c) { logger.warning("\(warning)") }
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        let command = self
        let app = ServingApp(configuration: c, read: { let c = try command.effectiveConfiguration(); return (c, try command.configurationWarnings(c)) },
                             registry: registry, logger: logger) { host, port in
            FileHandle.standardError.write(Data("pipeserve: listening on http://\(host):\(port)\n".utf8))
        }
        do { try await app.run() } catch let e as ServingError { throw CLIError(e.description) }
    }
}
