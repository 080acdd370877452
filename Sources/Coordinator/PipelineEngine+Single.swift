import Foundation
import ServingTypes
import WireProtocol

/// One sequence through the engine, waited for: what `pipeserve generate --stages` and the
/// pipeline equivalence tests run (the same scheduler, batches and output path as the daemon).
extension PipelineEngine {
    /// What one sequence produced.
    public struct SingleRun: Sendable {
        public var tokens: [Int32] = []
        /// Logprob of each token (NaN when the request asked for none).
        public var logprobs: [Float] = []
        public var text = ""
        public var finishReason: FinishReason = .length
        /// Submission to the first token (the prompt's prefill).
        public var prefillSeconds = 0.0
        /// First token to the end.
        public var decodeSeconds = 0.0
    }

    /// Why a single run did not finish.
    public struct SingleRunFailed: Error, CustomStringConvertible, Sendable {
        public let description: String
    }

    /// Submits `request`, waits for its end and returns what it produced; `onToken` sees each
    /// token as it arrives (on the engine's thread). Throws when the engine fails or refuses it.
    public func runOne(_ request: Request, onToken: @escaping @Sendable (Int32) -> Void = { _ in }) throws -> SingleRun {
        let box = SingleRunBox()
        let started = WireClock.monotonicNanoseconds()
        let accepted = submit(request) { event in
            let now = WireClock.monotonicNanoseconds()
            switch event {
            case let .token(t, _, logprob, _):
                box.update { run, _ in
                    if run.tokens.isEmpty { run.prefillSeconds = Double(now - started) / 1e9 }
                    run.tokens.append(t)
                    run.logprobs.append(logprob ?? .nan)
                }
                onToken(t)
            case let .text(piece):
                box.update { run, _ in run.text += piece }
            case let .finished(reason, _):
                box.finish { run, _ in
                    run.finishReason = reason
                    run.decodeSeconds = max(0, Double(now - started) / 1e9 - run.prefillSeconds)
                }
            case let .failed(why), let .refused(why, _):
                box.finish { _, failure in failure = why }
            }
        }
        guard accepted else { throw SingleRunFailed(description: "the engine's queue is full") }
        let (run, failure) = box.wait()
        if let failure { throw SingleRunFailed(description: failure) }
        return run
    }
}

/// The run being collected, filled on the engine thread and read by the waiting caller.
private final class SingleRunBox: @unchecked Sendable {
    // Sendable: every field is guarded by `cond`.
    private let cond = NSCondition()
    private var run = PipelineEngine.SingleRun()
    private var failure: String?
    private var done = false

    func update(_ change: (inout PipelineEngine.SingleRun, inout String?) -> Void) {
        cond.lock(); change(&run, &failure); cond.unlock()
    }

    func finish(_ change: (inout PipelineEngine.SingleRun, inout String?) -> Void) {
        cond.lock(); change(&run, &failure); done = true; cond.broadcast(); cond.unlock()
    }

    func wait() -> (PipelineEngine.SingleRun, String?) {
        cond.lock(); defer { cond.unlock() }
        while !done { cond.wait() }
        return (run, failure)
    }
}
