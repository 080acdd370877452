import Foundation
import Logging
import OpenAIServer
import ServiceLifecycle
import SystemdNotify

/// Tells systemd (Type=notify) how the daemon is doing: STATUS= while the stages load, READY=1 once
/// every stage answered its handshake, WATCHDOG=1 at half of WatchdogSec, STOPPING=1 when draining.
/// Without $NOTIFY_SOCKET it only waits for shutdown.
struct SystemdService: Service {
    let notifier: SystemdNotifier?
    let adapter: PipelineInferenceEngine
    let describe: @Sendable () -> String
    let logger: Logger

    func run() async throws {
        guard let n = notifier else {
            try? await gracefulShutdown()
            return
        }
        func send(_ f: () throws -> Void) {
            do { try f() } catch { logger.warning("systemd notification failed", metadata: ["error": "\(error)"]) }
        }
        send { try n.status("loading: starting pipeline stages") }
        var readySent = false
        var lastStatus = ""
        var lastWatchdog = DispatchTime.now().uptimeNanoseconds
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            let status: String
            switch adapter.health {
            case let .loading(why): status = "loading: \(why)"
            case let .recovering(why): status = "recovering: \(why)"
            case let .failed(why): status = "failed: \(why)"
            case .ready: status = describe()
            }
            if case .ready = adapter.health, !readySent {
                send { try n.ready(status: status) }
                readySent = true
            } else if status != lastStatus {
                send { try n.status(status) }
            }
            lastStatus = status
            if let interval = n.watchdogIntervalMicroseconds, readySent,
               DispatchTime.now().uptimeNanoseconds - lastWatchdog >= interval * 1000 {
                send { try n.watchdog() }
                lastWatchdog = DispatchTime.now().uptimeNanoseconds
            }
            try? await Task.sleep(for: .milliseconds(100))
        }
        send { try n.stopping(status: "draining: finishing requests, stopping stages") }
    }
}
