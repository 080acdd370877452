import Foundation
import Logging

/// One spawned stage process: its command line, its READY line, its exit.
public final class StageProcess: @unchecked Sendable {
    // Sendable: mutable state is guarded by `lock`; Process callbacks run on Foundation's threads.
    public let index: Int
    public let process: Process
    private let lock = NSLock()
    private var readyLine: String?
    private var exitStatus: Int32?
    private var exitTime: UInt64 = 0
    private var killedBySignal = false
    private var lastErrorLines: [String] = []
    private var partialError: [UInt8] = []
    private var stderrClosed = false
    private let readyCondition = NSCondition()
    private let logger: Logger

    /// Spawns `executable stage …arguments`. The stage's stderr is logged line by line through
    /// `logger` (at the level the stage logged it; lines that are not log lines as errors with `stage.index`); its stdout carries the
    /// READY line.
    public init(index: Int, executable: String, arguments: [String], logger: Logger) throws {
        self.index = index
        self.logger = logger
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable)
        p.arguments = arguments
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        p.standardInput = FileHandle.nullDevice
        self.process = p
        // Plain reader threads with blocking read(2): Foundation's readabilityHandler (a dispatch
        // source) crashed in libdispatch when a stage exited during shutdown.
        let outFD = out.fileHandleForReading.fileDescriptor
        let errFD = err.fileHandleForReading.fileDescriptor
        let outHandle = out.fileHandleForReading, errHandle = err.fileHandleForReading
        Self.startReader(fd: outFD, name: "stage-\(index)-out", keep: outHandle) { [weak self] data in
            guard let self else { return }
            for line in String(decoding: data ?? [], as: UTF8.self).split(separator: "\n") where line.hasPrefix("READY") {
                self.readyCondition.lock()
                self.readyLine = String(line)
                self.readyCondition.broadcast()
                self.readyCondition.unlock()
            }
        }
        Self.startReader(fd: errFD, name: "stage-\(index)-err", keep: errHandle) { [weak self] data in
            guard let self else { return }
            self.lock.lock()
            if let data { self.partialError.append(contentsOf: data) } else {
                self.partialError.append(UInt8(ascii: "\n"))
                self.stderrClosed = true
            }
            var lines: [String] = []
            while let nl = self.partialError.firstIndex(of: UInt8(ascii: "\n")) {
                let line = String(decoding: self.partialError[..<nl], as: UTF8.self)
                self.partialError.removeSubrange(...nl)
                if !line.isEmpty { lines.append(line) }
            }
            self.lastErrorLines += lines
            if self.lastErrorLines.count > 5 { self.lastErrorLines.removeFirst(self.lastErrorLines.count - 5) }
            self.lock.unlock()
            for line in lines {
                let l = StageLogLine(line)
                // A stage's own log lines carry stage.index already; other lines get it here.
                self.logger.log(level: l.level, "\(l.text)", metadata: l.isLogLine ? nil : ["stage.index": "\(index)"])
            }
        }
        p.terminationHandler = { [weak self] proc in
            guard let self else { return }
            self.readyCondition.lock()
            self.exitStatus = proc.terminationStatus
            self.exitTime = DispatchTime.now().uptimeNanoseconds
            self.killedBySignal = proc.terminationReason == .uncaughtSignal
            self.readyCondition.broadcast()
            self.readyCondition.unlock()
        }
        try p.run()
    }

    public var pid: Int32 { process.processIdentifier }

    /// Reads `fd` on its own thread until EOF, handing each chunk (nil at EOF) to `body`.
    /// `keep` holds the FileHandle (which owns the descriptor) alive until then.
    private static func startReader(fd: Int32, name: String, keep: FileHandle, body: @escaping @Sendable ([UInt8]?) -> Void) {
        let box = HandleBox(keep)
        let t = Thread {
            var buf = [UInt8](repeating: 0, count: 4096)
            while true {
                let n = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                if n > 0 { body(Array(buf[0..<n])); continue }
                if n < 0 && errno == EINTR { continue }
                body(nil)
                break
            }
            _ = box
        }
        t.name = name
        t.start()
    }

    /// When and how the process ended (nil while running): used to name the stage that failed
    /// first when its neighbours exit because their links broke.
    public var exitOrder: (signalled: Bool, time: UInt64)? {
        readyCondition.lock(); defer { readyCondition.unlock() }
        return exitStatus == nil ? nil : (killedBySignal, exitTime)
    }

    /// The READY line the stage printed (with its observed CPUs and memory policy), once ready.
    public var ready: String? {
        readyCondition.lock(); defer { readyCondition.unlock() }
        return readyLine
    }

    /// The exit status once the process has exited.
    public var exited: Int32? {
        readyCondition.lock(); defer { readyCondition.unlock() }
        return exitStatus
    }

    /// The last line the stage wrote to stderr (for error messages). After an exit, waits briefly
    /// for the stderr pipe to drain so the stage's final words are not lost.
    public var recentErrors: String {
        for _ in 0..<50 {
            lock.lock()
            let done = stderrClosed || exited == nil
            lock.unlock()
            if done { break }
            usleep(10_000)
        }
        lock.lock(); defer { lock.unlock() }
        return lastErrorLines.last ?? ""
    }

    public enum WaitResult: Sendable { case ready(String), exited(Int32), timedOut }

    /// Waits until the stage prints READY, exits, or the deadline passes.
    public func waitReady(until deadline: Date) -> WaitResult {
        readyCondition.lock(); defer { readyCondition.unlock() }
        while true {
            if let r = readyLine { return .ready(r) }
            if let s = exitStatus { return .exited(s) }
            if !readyCondition.wait(until: deadline) { return readyLine.map { .ready($0) } ?? .timedOut }
        }
    }

    /// Whether the process is stopped (SIGSTOP, a debugger): /proc/PID/stat state T or t.
    public var isStopped: Bool {
        guard exited == nil, let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")"), stat.index(close, offsetBy: 2) < stat.endIndex else { return false }
        let state = stat[stat.index(close, offsetBy: 2)]
        return state == "T" || state == "t"
    }

    /// Sends a signal (stages ignore SIGTERM, SIGINT and SIGHUP: stop them with a shutdown
    /// message, or SIGKILL).
    public func signal(_ sig: Int32) {
        if process.isRunning { kill(process.processIdentifier, sig) }
    }

    /// Waits for exit up to `seconds`, then kills.
    public func stop(graceSeconds: Double = 2) {
        let deadline = Date().addingTimeInterval(graceSeconds)
        while process.isRunning && Date() < deadline { usleep(10_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }
}

/// Keeps a FileHandle alive across a thread boundary.
private final class HandleBox: @unchecked Sendable {
    // Sendable: never mutated; only retained.
    let handle: FileHandle
    init(_ h: FileHandle) { handle = h }
}
