import ServingTypes

/// One alternative token with its log-probability.
public struct WireTopLogprob: Sendable, Equatable {
    public var token: Int32
    public var logprob: Float
    public init(token: Int32, logprob: Float) {
        self.token = token
        self.logprob = logprob
    }

    /// Bitwise equality, so NaN entries compare equal to themselves after a round trip.
    public static func == (a: Self, b: Self) -> Bool {
        a.token == b.token && a.logprob.bitPattern == b.logprob.bitPattern
    }
}

/// The token sampled for one sequence.
public struct WireSampledToken: Sendable, Equatable {
    public var sequence: SequenceID
    public var token: Int32
    /// Log-probability of `token`; NaN when logprobs were not requested.
    public var logprob: Float
    /// Up to 255 (normally ≤ 20) most likely alternatives.
    public var topLogprobs: [WireTopLogprob]
    /// The sequence's output constraint allowed no token at all (a run-time bound closed the
    /// only way on): `token` is an end-of-generation id standing in, and the sequence must end
    /// with its output incomplete.
    public var constraintDead: Bool

    public init(sequence: SequenceID, token: Int32, logprob: Float = .nan, topLogprobs: [WireTopLogprob] = [],
                constraintDead: Bool = false) {
        self.sequence = sequence
        self.token = token
        self.logprob = logprob
        self.topLogprobs = topLogprobs
        self.constraintDead = constraintDead
    }

    /// Bitwise equality on `logprob`: equal means "encodes to the same bytes", so the NaN
    /// placeholder round-trips as equal.
    public static func == (a: Self, b: Self) -> Bool {
        a.sequence == b.sequence && a.token == b.token
            && a.logprob.bitPattern == b.logprob.bitPattern && a.topLogprobs == b.topLogprobs
            && a.constraintDead == b.constraintDead
    }
}

/// The last stage's result for a micro-batch, sent to the coordinator.
public struct WireSampledTokens: Sendable, Equatable {
    public var batch: BatchID
    public var slot: MicroBatchSlot
    public var tokens: [WireSampledToken]
    /// Timings of every stage, in ring order.
    public var timings: [WireStageTiming]

    public init(batch: BatchID, slot: MicroBatchSlot, tokens: [WireSampledToken], timings: [WireStageTiming] = []) {
        self.batch = batch
        self.slot = slot
        self.tokens = tokens
        self.timings = timings
    }
}
