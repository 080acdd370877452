import Foundation
import WireProtocol

/// Control of a stage from outside its code, for a stage run on a thread (an in-process ring):
/// `crash()` ends it as a killed process ends (its links close at once, its code returns) and
/// `pause()` stops it handling messages as SIGSTOP stops a process. A stage process needs none:
/// signals do this.
public final class StageControl: @unchecked Sendable {
    // Sendable: every field is guarded by `cond`.
    private let cond = NSCondition()
    private var links: [WireConnection] = []
    private var paused = false
    private var crashed = false

    public init() {}

    /// Ends the stage: shuts its links down (the neighbours see them close) and makes its loop stop.
    public func crash() {
        cond.lock()
        crashed = true
        let open = links
        cond.broadcast()
        cond.unlock()
        for link in open { link.shutdown() }
    }

    /// Stops the stage before the next message it would handle, until `resume()` or `crash()`.
    public func pause() { cond.lock(); paused = true; cond.unlock() }

    public func resume() { cond.lock(); paused = false; cond.broadcast(); cond.unlock() }

    public var isPaused: Bool { cond.lock(); defer { cond.unlock() }; return paused && !crashed }

    public var isCrashed: Bool { cond.lock(); defer { cond.unlock() }; return crashed }

    /// Registers a link to shut down on `crash()` (at once if the stage has already crashed).
    func attach(_ link: WireConnection) {
        cond.lock()
        links.append(link)
        let shut = crashed
        cond.unlock()
        if shut { link.shutdown() }
    }

    /// Called by the stage loop before each message: waits while paused, throws once crashed.
    func checkpoint() throws {
        cond.lock(); defer { cond.unlock() }
        while paused && !crashed { cond.wait() }
        if crashed { throw StageError.link("stage crashed on request") }
    }
}
