import Foundation

/// A real `pipeserve serve` on port 0, for live tests; stopped with SIGTERM.
final class LiveServer: @unchecked Sendable {
    // Sendable: `stderrText` is guarded by `lock`.
    let process = Process()
    private let lock = NSLock()
    private var stderrText = ""
    private(set) var port = 0

    init(arguments: [String], readyTimeout: Double = 60) throws {
        process.executableURL = URL(fileURLWithPath: CLI.binary)
        process.arguments = ["serve", "--port", "0"] + arguments
        let err = Pipe()
        process.standardError = err
        process.standardOutput = FileHandle.nullDevice
        // A plain thread with blocking reads until end of file, not a readabilityHandler: Foundation's
        // dispatch source for the handler crashed the test process (SIGSEGV in
        // _dispatch_event_loop_drain) once a SIGKILLed server's pipe was torn down under it.
        let reader = Thread { [weak self] in
            let h = err.fileHandleForReading
            while true {
                let d = h.availableData
                guard !d.isEmpty, let self else { return }
                self.lock.lock(); self.stderrText += String(decoding: d, as: UTF8.self); self.lock.unlock()
            }
        }
        reader.name = "live-server-stderr"
        try process.run()
        reader.start()
        let deadline = Date().addingTimeInterval(readyTimeout)
        while port == 0 {
            guard Date() < deadline, process.isRunning else { throw CLIError("server did not bind: \(log)") }
            lock.lock()
            if let r = stderrText.range(of: #"listening on http://[^:]+:(\d+)"#, options: .regularExpression) {
                port = Int(stderrText[r].split(separator: ":").last ?? "") ?? 0
            }
            lock.unlock()
            usleep(20_000)
        }
        while (try? curl(["-s", "-o", "/dev/null", "-w", "%{http_code}", url("/health")]).stdout) != "200" {
            guard Date() < deadline, process.isRunning else { throw CLIError("server not healthy: \(log)") }
            usleep(50_000)
        }
    }

    var log: String { lock.lock(); defer { lock.unlock() }; return stderrText }

    func url(_ path: String) -> String { "http://127.0.0.1:\(port)\(path)" }

    /// POSTs JSON with curl; returns (status, body).
    func post(_ path: String, _ body: String, headers: [String] = []) throws -> (Int, String) {
        let r = try curl(["-s", "-w", "\n%{http_code}", "-H", "Content-Type: application/json"] + headers.flatMap { ["-H", $0] }
                         + ["--data-binary", body, url(path)])
        return split(r.stdout)
    }

    func get(_ path: String) throws -> (Int, String) {
        split(try curl(["-s", "-w", "\n%{http_code}", url(path)]).stdout)
    }

    private func split(_ s: String) -> (Int, String) {
        guard let nl = s.lastIndex(of: "\n") else { return (0, s) }
        return (Int(s[s.index(after: nl)...]) ?? 0, String(s[..<nl]))
    }

    func curl(_ args: [String]) throws -> CLIResult {
        try CLI.exec("/usr/bin/curl", ["--max-time", "60"] + args)
    }

    /// SIGTERM and wait (SIGKILL after 30 s, so a daemon that does not drain fails its test
    /// instead of hanging the suite); returns the exit status.
    @discardableResult
    func stop() -> Int32 {
        if process.isRunning { process.terminate() }
        let deadline = Date().addingTimeInterval(30)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        return process.terminationStatus
    }
}

struct CLIError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

func json(_ s: String) -> [String: Any]? {
    (try? JSONSerialization.jsonObject(with: Data(s.utf8))) as? [String: Any]
}
