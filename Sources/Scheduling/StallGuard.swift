/// Stall-free mixing (Sarathi-Serve's idea): how many prompt tokens the ring may carry while
/// other sequences decode, so that the decoding streams' inter-token latency stays within `limit`
/// times what it is without prompt work — running streams keep their pace while new prompts are
/// prefilled.
///
/// Measured, not modelled. What a stream waits between two tokens is the time between two
/// returns of its slot's micro-batch: one rotation of the ring, whatever the stages, threads,
/// cores and neighbours do in it. A cost model of the iteration missed that: in a pipeline the
/// slowest stage sets the pace (on a small model the last stage's output head), a prompt chunk
/// in a micro-batch holds the ones behind it at its stage, a few prompt rows cost the batch
/// kernels far more per row than many do, and attention deep in a long prompt costs more per
/// token than at its start. So the guard watches the rotations. Those without prompt work teach
/// the solo latency (exponentially weighted). Each rotation that carried paced prompt tokens
/// is compared with it (additive increase, multiplicative decrease, as TCP paces a link it cannot
/// model): above `limit` × solo the allowance shrinks by `cut`; below `aim` × solo (a little
/// under the limit) it grows by `step` tokens; in between it holds. It settles where a small
/// share of rotations touch the limit — the inter-token p90 of the streams stays within it.
///
/// The scheduler paces long prompts (more than a micro-batch's token budget: seconds of
/// prefill) by it, to their last token: while streams decode, one micro-batch with their tokens
/// is in the ring at a time, carrying the whole allowance, so every stream's rotation carries one
/// chunk, and a few larger chunks use the weights better than one small chunk in every
/// micro-batch. A short prompt costs a rotation or two once and is not paced (pacing it starved a
/// busy server's new requests). Until the solo latency is known the guard sets no limit; the
/// allowance starts at `initial`.
public struct StallGuard: Sendable, Equatable {
    /// Most a rotation with prompt work may take, in solo rotations (> 1).
    public let limit: Double
    /// Fewest prompt tokens the allowance keeps (a prompt must still make progress).
    public let floor: Int
    /// Most prompt tokens the allowance reaches.
    public let ceiling: Int
    /// Weight of the newest solo rotation in the solo latency.
    public let smoothing: Double
    /// Factor of the allowance after a rotation above the limit.
    public let cut: Double
    /// Tokens the allowance gains after a rotation below the aim.
    public let step: Double
    /// Latency of a rotation without prompt work (ns), once seen.
    public private(set) var soloNanoseconds: Double?
    /// Prompt tokens the ring may carry per rotation while streams decode.
    public private(set) var allowance: Double
    /// Rotations with prompt work observed, and of those above `limit` × solo (for metrics).
    public private(set) var mixedRotations: UInt64 = 0
    public private(set) var stalledRotations: UInt64 = 0

    /// Per slot: when its last batch came back, whether that batch decoded, and the paced and all
    /// prompt tokens returned (by any slot) up to then.
    private var lastReturn: [UInt64?]
    private var lastDecoded: [Bool]
    private var pacedMark: [Int]
    private var promptMark: [Int]
    /// Paced and all prompt tokens returned so far, by all slots.
    private var pacedReturned = 0
    private var promptReturned = 0

    public init(limit: Double, slots: Int, initial: Int, ceiling: Int, floor: Int = 4, smoothing: Double = 0.25,
                cut: Double = 0.85, step: Double = 0.5) {
        self.limit = limit
        self.floor = max(1, floor)
        self.ceiling = max(self.floor, ceiling)
        self.smoothing = min(1, max(0.01, smoothing))
        self.cut = min(0.99, max(0.1, cut))
        self.step = max(0, step)
        self.allowance = Double(min(max(initial, self.floor), self.ceiling))
        let n = max(0, slots)
        lastReturn = Array(repeating: nil, count: n)
        lastDecoded = Array(repeating: false, count: n)
        pacedMark = Array(repeating: 0, count: n)
        promptMark = Array(repeating: 0, count: n)
    }

    /// Below this ratio to solo a rotation lets the allowance grow: 70 % of the way to `limit`,
    /// so that the rotations settle below it and their spread stays within it.
    public var aim: Double { 1 + 0.7 * (limit - 1) }

    /// Prompt tokens a micro-batch may carry while sequences decode; nil until the solo latency is known.
    public var chunkTokens: Int? {
        soloNanoseconds == nil ? nil : Int(allowance.rounded(.down))
    }

    /// A batch of `slot` came back at `nanoseconds` (monotonic) with `decodes` decode entries,
    /// `pacedTokens` prompt tokens of paced (long) prompts and `otherPromptTokens` of others;
    /// `promptInFlight` says whether a batch still in the ring carries prompt tokens. When this
    /// and the slot's previous batch both decoded, the time between them is one rotation as its
    /// streams saw it: paced when paced tokens came back in it, solo when no prompt tokens did and
    /// none are in the ring. Other rotations teach nothing: a short prompt's chunk is not paced,
    /// and a chunk on its way slows the rotations that end before it returns.
    public mutating func recordReturn(slot: Int, decodes: Int, pacedTokens: Int, otherPromptTokens: Int,
                                      promptInFlight: Bool, atNanoseconds nanoseconds: UInt64) {
        guard slot >= 0, slot < lastReturn.count else { return }
        pacedReturned += max(0, pacedTokens)
        promptReturned += max(0, pacedTokens) + max(0, otherPromptTokens)
        defer {
            lastReturn[slot] = nanoseconds
            lastDecoded[slot] = decodes > 0
            pacedMark[slot] = pacedReturned
            promptMark[slot] = promptReturned
        }
        guard decodes > 0, lastDecoded[slot], let previous = lastReturn[slot], nanoseconds > previous else { return }
        let paced = pacedReturned - pacedMark[slot]
        guard paced > 0 || (promptReturned == promptMark[slot] && !promptInFlight) else { return }
        observe(rotationNanoseconds: Double(nanoseconds - previous), pacedTokens: paced)
    }

    /// Forgets when `slot`'s last batch came back (it failed, or the ring restarted): the gap to
    /// its next return is no rotation its streams saw.
    public mutating func forgetReturn(of slot: Int) {
        guard slot >= 0, slot < lastReturn.count else { return }
        lastReturn[slot] = nil
        lastDecoded[slot] = false
    }

    /// One rotation of `rotationNanoseconds` during which `pacedTokens` paced prompt tokens came
    /// back (0: a solo rotation).
    mutating func observe(rotationNanoseconds t: Double, pacedTokens: Int) {
        guard pacedTokens > 0 else {
            soloNanoseconds = soloNanoseconds.map { $0 + smoothing * (t - $0) } ?? t
            return
        }
        guard let solo = soloNanoseconds, solo > 0 else { return }
        let r = t / solo
        mixedRotations += 1
        if r > limit {
            stalledRotations += 1
            allowance = max(Double(floor), allowance * cut)
        } else if r < aim, Double(pacedTokens) >= allowance / 2 {  // grows only when it was used
            allowance = min(Double(ceiling), allowance + step)
        }
    }
}
