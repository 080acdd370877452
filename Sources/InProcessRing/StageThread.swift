import CPlatform
import Foundation
import Logging
import StageWorker
import WireProtocol

/// One stage of an in-process ring: the stage process's code (`StageRunner`) on a thread of its
/// own, with its life recorded as a process's would be (ready, exit status, order of exit).
final class StageThread: @unchecked Sendable {
    // Sendable: the mutable fields are guarded by `cond`; `control` is thread-safe.
    let index: Int
    let control = StageControl()
    private let cond = NSCondition()
    private var isReady = false
    private var status: Int32?
    private var exitTime: UInt64 = 0
    private var detail = ""
    private var threadID: Int32 = 0

    /// Exit statuses as the process ring reports them: 0 for a clean end, 1 for an error, and
    /// 128 + SIGKILL for a stage crashed on purpose (`crash()`), as a killed process shows.
    static let crashedStatus: Int32 = 128 + SIGKILL

    init(options: StageOptions, logger: Logger) {
        self.index = options.index
        let t = Thread { [self] in
            cond.lock(); threadID = ps_sys_thread_id(); cond.unlock()
            let runner = StageRunner(options: options, logger: logger, control: control)
            var outcome: (Int32, String) = (0, "")
            do {
                try runner.run { [self] _ in
                    cond.lock(); isReady = true; cond.broadcast(); cond.unlock()
                }
            } catch {
                outcome = (1, "stage \(options.index): \(error)")
            }
            if control.isCrashed { outcome.0 = Self.crashedStatus }
            cond.lock()
            status = outcome.0
            detail = outcome.1
            exitTime = WireClock.monotonicNanoseconds()
            cond.broadcast()
            cond.unlock()
        }
        t.name = "pipeserve-stage-\(options.index)"
        t.stackSize = 8 << 20
        t.start()
    }

    /// The thread's kernel id (what `ps -L` shows), 0 until it has started.
    var tid: Int32 { cond.lock(); defer { cond.unlock() }; return threadID }

    /// The exit status once the stage's code has returned.
    var exited: Int32? { cond.lock(); defer { cond.unlock() }; return status }

    /// When and how it ended, for naming the stage that broke a ring (as `StageProcess.exitOrder`).
    var exitOrder: (crashed: Bool, time: UInt64)? {
        cond.lock(); defer { cond.unlock() }
        return status.map { ($0 == Self.crashedStatus, exitTime) }
    }

    /// The error the stage ended with ("" if none).
    var lastError: String { cond.lock(); defer { cond.unlock() }; return detail }

    enum WaitResult { case ready, exited(Int32), timedOut }

    /// Waits until the stage is linked (ready) or has ended.
    func waitReady(until deadline: Date) -> WaitResult {
        cond.lock(); defer { cond.unlock() }
        while true {
            if let status { return .exited(status) }
            if isReady { return .ready }
            if !cond.wait(until: deadline) { return isReady ? .ready : (status.map { .exited($0) } ?? .timedOut) }
        }
    }

    /// Waits for the stage's code to return; false if it has not by `deadline`.
    @discardableResult
    func join(until deadline: Date) -> Bool {
        cond.lock(); defer { cond.unlock() }
        while status == nil { if !cond.wait(until: deadline) { break } }
        return status != nil
    }
}
