/// Which logits the last stage must produce for an entry.
public enum WireLogitsMode: UInt8, Sendable, CaseIterable {
    /// No logits (a prefill chunk that is not the prompt's last).
    case none = 0
    /// Logits of the entry's last position only (decode, last prefill chunk): sample one token.
    case last = 1
    /// Logits of every position (scoring / prompt logprobs).
    case all = 2
}

/// Per-sequence sampling parameters, carried with every entry so the last stage is stateless.
/// Randomness is a function of (`seed`, `tokenIndex`), which keeps results independent of
/// batching and stage count.
public struct WireSamplingParameters: Sendable, Equatable {
    public var temperature: Float
    public var topK: Int32
    public var topP: Float
    public var minP: Float
    public var repetitionPenalty: Float
    public var presencePenalty: Float
    public var frequencyPenalty: Float
    /// How many most recent tokens the penalties look at.
    public var penaltyWindow: Int32
    public var seed: UInt64
    /// Index (within the sequence's generated tokens) of the first token sampled in this entry.
    public var tokenIndex: UInt32
    /// How many top logprobs to return per sampled token (0–20).
    public var topLogprobs: UInt8

    public init(temperature: Float = 1, topK: Int32 = 0, topP: Float = 1, minP: Float = 0,
                repetitionPenalty: Float = 1, presencePenalty: Float = 0, frequencyPenalty: Float = 0,
                penaltyWindow: Int32 = 64, seed: UInt64 = 0, tokenIndex: UInt32 = 0, topLogprobs: UInt8 = 0) {
        self.temperature = temperature
        self.topK = topK
        self.topP = topP
        self.minP = minP
        self.repetitionPenalty = repetitionPenalty
        self.presencePenalty = presencePenalty
        self.frequencyPenalty = frequencyPenalty
        self.penaltyWindow = penaltyWindow
        self.seed = seed
        self.tokenIndex = tokenIndex
        self.topLogprobs = topLogprobs
    }

    /// Encoded size in bytes.
    static let wireSize = 45
}

/// One sequence's slice of a micro-batch: positions [startPosition, startPosition + count).
public struct WireBatchEntry: Sendable, Equatable {
    public var sequence: WireSequenceID
    public var startPosition: UInt32
    /// Number of positions (rows of hidden state) this entry contributes.
    public var count: UInt32
    public var logits: WireLogitsMode
    /// The input token ids; needed by stage 0 (and by the last stage for penalties), may be empty elsewhere.
    public var tokens: [Int32]
    public var sampling: WireSamplingParameters

    public init(sequence: WireSequenceID, startPosition: UInt32, count: UInt32, logits: WireLogitsMode,
                tokens: [Int32], sampling: WireSamplingParameters) {
        self.sequence = sequence
        self.startPosition = startPosition
        self.count = count
        self.logits = logits
        self.tokens = tokens
        self.sampling = sampling
    }
}

/// A micro-batch travelling coordinator → stage 0 → … → last stage.
public struct WireForwardBatch: Sendable, Equatable {
    public var batch: BatchID
    public var slot: MicroBatchSlot
    public var entries: [WireBatchEntry]
    /// Timings appended by each stage that has run this batch.
    public var timings: [WireStageTiming]
    /// Activations entering the receiving stage; nil on the coordinator → stage 0 link.
    public var hiddenStates: WireHiddenStates?

    public init(batch: BatchID, slot: MicroBatchSlot, entries: [WireBatchEntry],
                timings: [WireStageTiming] = [], hiddenStates: WireHiddenStates? = nil) {
        self.batch = batch
        self.slot = slot
        self.entries = entries
        self.timings = timings
        self.hiddenStates = hiddenStates
    }
}
