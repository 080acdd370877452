/// How the next token is chosen: one type from the HTTP request to the last stage's sampler (the
/// wire codec encodes it field by field). Defaults sample from the unmodified distribution;
/// temperature 0 is greedy. Randomness is a function of (seed, token index) only, so results do
/// not depend on stage count, batch composition or a replay.
public struct SamplingParameters: Sendable, Equatable, Hashable, Codable {
    public var temperature: Float = 1
    /// Keep only the k most likely tokens (0 = off).
    public var topK: Int = 0
    /// Keep the smallest set of tokens whose probability reaches p (1 = off).
    public var topP: Float = 1
    /// Drop tokens less likely than minP × the most likely one (0 = off).
    public var minP: Float = 0
    /// Divide positive (multiply negative) logits of tokens seen in the penalty window (1 = off).
    public var repetitionPenalty: Float = 1
    /// Subtract from logits of tokens seen in the penalty window (OpenAI semantics, −2…2).
    public var presencePenalty: Float = 0
    /// Subtract count × this from logits of tokens seen in the penalty window.
    public var frequencyPenalty: Float = 0
    /// How many of the most recent tokens the penalties look at.
    public var penaltyWindow: Int = 64
    /// Seed of the per-request random stream; token i uses a value derived from (seed, i) only.
    public var seed: UInt64 = 0

    public init() {}

    public init(temperature: Float = 1, topK: Int = 0, topP: Float = 1, minP: Float = 0, repetitionPenalty: Float = 1,
                presencePenalty: Float = 0, frequencyPenalty: Float = 0, penaltyWindow: Int = 64, seed: UInt64 = 0) {
        self.temperature = temperature
        self.topK = topK
        self.topP = topP
        self.minP = minP
        self.repetitionPenalty = repetitionPenalty
        self.presencePenalty = presencePenalty
        self.frequencyPenalty = frequencyPenalty
        self.penaltyWindow = penaltyWindow
        self.seed = seed
    }

    public static let greedy: SamplingParameters = { var p = SamplingParameters(); p.temperature = 0; return p }()

    /// Whether any penalty is active.
    public var hasPenalties: Bool { repetitionPenalty != 1 || presencePenalty != 0 || frequencyPenalty != 0 }
}
