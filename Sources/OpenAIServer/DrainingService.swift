import Hummingbird
import Logging
import ServiceLifecycle

/// The HTTP application as a service that drains the way a load balancer expects: on graceful
/// shutdown (SIGTERM) it keeps listening, answers every new request except `/metrics` with 503
/// `shutting_down` (`Retry-After`, `Connection: close`), lets running requests and streams
/// finish — bounded by `drainTimeoutSeconds`; clients that leave are cancelled at once — and only
/// then closes the listener and the remaining keep-alive connections.
///
/// Put it where the application itself would go in the `ServiceGroup` (after the engine): the
/// group's reverse-order shutdown then stops the engine only after the last response.
public struct DrainingService: Service {
    let application: OpenAIApplication
    let drain: DrainState
    let drainTimeoutSeconds: Double
    let logger: Logger

    public init(application: OpenAIApplication, drain: DrainState, drainTimeoutSeconds: Double, logger: Logger) {
        self.application = application
        self.drain = drain
        self.drainTimeoutSeconds = drainTimeoutSeconds
        self.logger = logger
    }

    public func run() async throws {
        // A group of its own, run in a detached task: a ServiceGroup started inside another one's
        // service inherits (through a task-local) and forwards the outer graceful shutdown, and
        // Hummingbird would then close the listener at once. Cancellation is forwarded by hand.
        let inner = ServiceGroup(configuration: .init(services: [.init(service: application)], logger: logger))
        let running = Task.detached { try await inner.run() }
        try await withGracefulShutdownHandler {
            try await withTaskCancellationHandler {
                try await running.value
            } onCancel: {
                running.cancel()
            }
        } onGracefulShutdown: { [drain, drainTimeoutSeconds, logger] in
            drain.startDraining()
            Task {
                let running = drain.runningRequests
                if running > 0 { logger.notice("draining: waiting for \(running) running request(s)") }
                if await !drain.waitUntilIdle(timeoutSeconds: drainTimeoutSeconds) {
                    logger.warning("draining: \(drain.runningRequests) request(s) still running after \(drainTimeoutSeconds) s; closing")
                }
                await inner.triggerGracefulShutdown()
            }
        }
    }
}
