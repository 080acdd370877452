import Foundation
import Logging
import OpenAIServer
import ServiceLifecycle
import SystemdNotify

/// Tells systemd (Type=notify) how the daemon is doing, as it changes: STATUS= while the stages
/// load, recover or repartition, READY=1 once every stage answered its handshake, WATCHDOG=1 at
/// half of WatchdogSec, STOPPING=1 when draining. Driven by the adapter's health changes (no
/// polling); the watchdog runs on its own timer. Without $NOTIFY_SOCKET it only waits for shutdown.
public struct SystemdService: Service {
    let notifier: SystemdNotifier?
    let adapter: PipelineInferenceEngine
    let describe: @Sendable () -> String
    let logger: Logger

    public init(notifier: SystemdNotifier?, adapter: PipelineInferenceEngine, describe: @escaping @Sendable () -> String, logger: Logger) {
        self.notifier = notifier
        self.adapter = adapter
        self.describe = describe
        self.logger = logger
    }

    public func run() async throws {
        guard let n = notifier else {
            try? await gracefulShutdown()
            return
        }
        let logger = self.logger
        @Sendable func send(_ f: () throws -> Void) {
            do { try f() } catch { logger.warning("systemd notification failed", metadata: ["error": "\(error)"]) }
        }
        send { try n.status("loading: starting pipeline stages") }
        let changes = adapter.healthChanges
        let describe = self.describe
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                var readySent = false
                var lastStatus = ""
                for await health in changes.cancelOnGracefulShutdown() {
                    let status: String
                    switch health {
                    case let .loading(why): status = "loading: \(why)"
                    case let .recovering(why): status = "recovering: \(why)"
                    case let .failed(why): status = "failed: \(why)"
                    case .ready: status = describe()
                    }
                    if case .ready = health, !readySent {
                        send { try n.ready(status: status) }
                        readySent = true
                    } else if status != lastStatus {
                        send { try n.status(status) }
                    }
                    lastStatus = status
                }
            }
            if let interval = n.watchdogIntervalMicroseconds {
                group.addTask {
                    while !Task.isShuttingDownGracefully && !Task.isCancelled {
                        try? await Task.sleep(for: .microseconds(Int64(interval)))
                        if case .ready = adapter.health { send { try n.watchdog() } }
                    }
                }
            }
            try? await gracefulShutdown()
            group.cancelAll()
        }
        send { try n.stopping(status: "draining: finishing requests, stopping stages") }
    }
}
