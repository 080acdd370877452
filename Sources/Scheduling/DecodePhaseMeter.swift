/// Decode throughput of the iterations that did nothing but decode: tokens they sampled divided
/// by the wall time they took. This is what llama.cpp's `llama-batched-bench` reports as S_TG
/// (it prefills every prompt first and then times N sequences decoding together), measured on a
/// continuous-batching schedule instead, where prefill chunks of other requests ride in the same
/// iterations as decodes: "N / time per output token" mixes those chunks in, this does not.
///
/// An iteration's wall time is the time from the previous batch's return (any batch) to its own
/// return, or from its send when it is the first: returns partition the timeline, so the
/// coordinator's own work between iterations (applying samples, planning, sending) is counted,
/// and with several micro-batches in flight the figure is the ring's throughput, not one batch's
/// latency. Idle time never lands on a decode-only iteration: the ring only idles when no
/// sequence runs, and the batch that ends the idling carries a prompt (or a recompute after a
/// restart or preemption), which is prefill. A batch that came back without samples (a stage
/// rejected it) still spends its time; a decode-only one is counted with zero tokens.
///
/// Pure: timestamps are supplied by the caller, in nanoseconds of a monotonic clock.
public struct DecodePhaseMeter: Sendable, Equatable {
    /// Decode-only iterations recorded.
    public private(set) var iterations: UInt64 = 0
    /// Tokens sampled by decode-only iterations.
    public private(set) var tokens: UInt64 = 0
    /// Wall time of decode-only iterations.
    public private(set) var nanoseconds: UInt64 = 0
    /// Iterations that carried prefill work (a prompt chunk or a recompute), and their wall time.
    public private(set) var prefillIterations: UInt64 = 0
    public private(set) var prefillNanoseconds: UInt64 = 0
    private var lastReturn: UInt64?

    public init() {}

    /// Records a batch that came back at `returnedAt` after being sent at `sentAt`, with
    /// `sampledTokens` tokens applied from it.
    public mutating func record(_ batch: PlannedBatch, sampledTokens: Int, sentAt: UInt64, returnedAt: UInt64) {
        let start = lastReturn ?? sentAt
        let span = returnedAt > start ? returnedAt - start : 0
        lastReturn = max(lastReturn ?? 0, returnedAt)
        if batch.entries.contains(where: \.isPrefill) {
            prefillIterations += 1
            prefillNanoseconds &+= span
        } else {
            iterations += 1
            tokens &+= UInt64(max(0, sampledTokens))
            nanoseconds &+= span
        }
    }

    /// Decode-only tokens per second; nil before any decode-only iteration took measurable time.
    public var tokensPerSecond: Double? {
        nanoseconds == 0 ? nil : Double(tokens) / (Double(nanoseconds) / 1e9)
    }
}
