/// Stall-free mixing (Sarathi-Serve's idea): how many prompt tokens a micro-batch may carry while
/// other sequences decode, so that an iteration with a prompt chunk takes at most `limit` times a
/// decode-only iteration — running streams keep their pace while new prompts are prefilled.
///
/// It learns both costs from the batches that come back: a decode-only iteration's compute (the
/// weights read once, whatever the few rows) and the extra compute per prompt token of an
/// iteration that carries a chunk. Then (limit − 1) × decode step / cost per prompt token is the
/// chunk that fits, never below `floor` (a prompt must still make progress). Until both costs are
/// known it sets no limit. Exponentially weighted, so it follows the machine's speed.
public struct StallGuard: Sendable, Equatable {
    /// Most a mixed iteration may take, in decode-only iterations (> 1).
    public let limit: Double
    /// Fewest prompt tokens a limited micro-batch still carries.
    public let floor: Int
    /// Weight of the newest observation.
    public let smoothing: Double
    /// Compute of a decode-only iteration (ns, summed over stages), once seen.
    public private(set) var decodeStepNanoseconds: Double?
    /// Extra compute per prompt token in an iteration with a chunk (ns), once seen.
    public private(set) var promptTokenNanoseconds: Double?

    public init(limit: Double, floor: Int = 8, smoothing: Double = 0.2) {
        self.limit = limit
        self.floor = max(1, floor)
        self.smoothing = min(1, max(0.01, smoothing))
    }

    /// Learns from a returned iteration: its prompt and decode tokens and its compute.
    public mutating func record(promptTokens: Int, decodeTokens: Int, computeNanoseconds: UInt64) {
        let t = Double(computeNanoseconds)
        guard t > 0 else { return }
        if promptTokens == 0 {
            guard decodeTokens > 0 else { return }
            decodeStepNanoseconds = decodeStepNanoseconds.map { $0 + smoothing * (t - $0) } ?? t
        } else if let base = decodeStepNanoseconds {
            let perToken = max(0, t - base) / Double(promptTokens)
            promptTokenNanoseconds = promptTokenNanoseconds.map { $0 + smoothing * (perToken - $0) } ?? perToken
        }
    }

    /// Prompt tokens a micro-batch may carry while sequences decode; nil until both costs are known.
    public var chunkTokens: Int? {
        guard let step = decodeStepNanoseconds, let perToken = promptTokenNanoseconds else { return nil }
        guard perToken > 0 else { return nil }
        return max(floor, Int(min((limit - 1) * step / perToken, 1e9)))
    }
}
