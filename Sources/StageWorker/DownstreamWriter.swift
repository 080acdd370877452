import Foundation
import WireProtocol

/// Sends a stage's output on its own thread, in order, so the stage can start computing its next
/// batch while a large hidden-state frame drains into a downstream stage that is still busy
/// (a prefill batch is far larger than the socket buffer; a blocking send would serialise the
/// two stages and reopen the bubble that micro-batches close).
final class DownstreamWriter: @unchecked Sendable {
    // Sendable: `queue` and `failure` are guarded by `cond`; the connection is used only by the
    // writer thread after start.
    private enum Item {
        case message(WireMessage)
        case batch(WireForwardBatch, [Float], rows: Int, dtype: WireActivationDType)
        case finish
    }

    private let connection: WireConnection
    private let cond = NSCondition()
    private var queue: [Item] = []
    private var failure: Error?
    private var done = false
    private var thread: Thread?

    init(connection: WireConnection) {
        self.connection = connection
        let t = Thread { [weak self] in self?.run() }
        t.name = "pipeserve-stage-tx"
        thread = t
        t.start()
    }

    /// Queues a message; throws the writer's earlier failure (the downstream link is gone).
    func send(_ m: WireMessage) throws { try enqueue(.message(m)) }

    /// Queues a forward batch whose hidden states are `hidden` (rows × width, sent zero-copy).
    func send(_ b: WireForwardBatch, hidden: [Float], rows: Int, dtype: WireActivationDType) throws {
        try enqueue(.batch(b, hidden, rows: rows, dtype: dtype))
    }

    private func enqueue(_ item: Item) throws {
        cond.lock(); defer { cond.unlock() }
        if let failure { throw failure }
        queue.append(item)
        cond.signal()
    }

    /// Sends what is queued, then stops the thread. Returns the failure, if any.
    @discardableResult
    func finish() -> Error? {
        cond.lock()
        queue.append(.finish)
        cond.signal()
        while !done { cond.wait() }
        let f = failure
        cond.unlock()
        return f
    }

    private func run() {
        while true {
            cond.lock()
            while queue.isEmpty { cond.wait() }
            let item = queue.removeFirst()
            cond.unlock()
            do {
                switch item {
                case let .message(m):
                    try connection.send(m)
                case let .batch(b, hidden, rows, dtype):
                    try hidden.withUnsafeBufferPointer {
                        try connection.sendForwardBatch(b, hiddenStates: $0, rows: rows, width: hidden.count / max(1, rows), dtype: dtype)
                    }
                case .finish:
                    cond.lock(); done = true; cond.broadcast(); cond.unlock()
                    return
                }
            } catch {
                cond.lock()
                failure = error
                queue.removeAll()
                done = true
                cond.broadcast()
                cond.unlock()
                return
            }
        }
    }
}
