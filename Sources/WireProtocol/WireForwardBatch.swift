import ServingTypes

/// Which logits the last stage must produce for an entry.
public enum WireLogitsMode: UInt8, Sendable, CaseIterable {
    /// No logits (a prefill chunk that is not the prompt's last).
    case none = 0
    /// Logits of the entry's last position only (decode, last prefill chunk): sample one token.
    case last = 1
    /// Logits of every position (scoring / prompt logprobs).
    case all = 2
}

/// One sequence's slice of a micro-batch: positions [startPosition, startPosition + count).
///
/// The sampling parameters travel with every entry so that the last stage is stateless;
/// randomness is a function of (`sampling.seed`, `tokenIndex`), which keeps results independent
/// of batching and stage count.
public struct WireBatchEntry: Sendable, Equatable {
    public var sequence: SequenceID
    public var startPosition: UInt32
    /// Number of positions (rows of hidden state) this entry contributes.
    public var count: UInt32
    public var logits: WireLogitsMode
    /// The input token ids; needed by stage 0 (and by the last stage for penalties), may be empty elsewhere.
    public var tokens: [Int32]
    public var sampling: SamplingParameters
    /// Index (within the sequence's generated tokens) of the first token sampled in this entry.
    public var tokenIndex: UInt32
    /// How many top logprobs to return per sampled token (0–20).
    public var topLogprobs: UInt8
    /// The API request the sequence belongs to, for the stages' log lines: sent with a
    /// sequence's first prompt chunk (a stage keeps it until the sequence is freed), empty
    /// otherwise. At most `maxRequestLabelBytes` of UTF-8.
    public var requestLabel: String
    /// Prefix-cache blocks to copy into the sequence's (empty) KV before this entry runs; the
    /// entry then starts right after them. Only on a sequence's first entry of an admission.
    public var restoreBlocks: [WireBlockRef]
    /// Blocks whose last position this entry computes: keep a copy of their KV afterwards.
    public var storeBlocks: [WireBlockRef]
    /// The sequence's output constraint: on its first entry of each admission (as
    /// `restoreBlocks`), nil otherwise and for unconstrained sequences. Source at most
    /// `WireConstraint.maxSourceBytes` (the coordinator refuses larger ones before sending).
    public var constraint: WireConstraint?

    /// Longest request label on the wire (an API request id is ~30 bytes).
    public static let maxRequestLabelBytes = 128

    public init(sequence: SequenceID, startPosition: UInt32, count: UInt32, logits: WireLogitsMode,
                tokens: [Int32], sampling: SamplingParameters = SamplingParameters(), tokenIndex: UInt32 = 0,
                topLogprobs: UInt8 = 0, requestLabel: String = "",
                restoreBlocks: [WireBlockRef] = [], storeBlocks: [WireBlockRef] = [], constraint: WireConstraint? = nil) {
        self.sequence = sequence
        self.startPosition = startPosition
        self.count = count
        self.logits = logits
        self.tokens = tokens
        self.sampling = sampling
        self.tokenIndex = tokenIndex
        self.topLogprobs = topLogprobs
        self.requestLabel = Self.truncated(requestLabel)
        self.restoreBlocks = restoreBlocks
        self.storeBlocks = storeBlocks
        self.constraint = constraint
    }

    /// `label` cut to `maxRequestLabelBytes` at a scalar boundary.
    static func truncated(_ label: String) -> String {
        if label.utf8.count <= maxRequestLabelBytes { return label }
        var out = String.UnicodeScalarView()
        var bytes = 0
        for scalar in label.unicodeScalars {
            let n = UTF8.width(scalar)
            if bytes + n > maxRequestLabelBytes { break }
            bytes += n
            out.append(scalar)
        }
        return String(out)
    }

    /// Encoded size of the sampling fields (sampling parameters, token index, top logprobs).
    static let samplingWireSize = 45
}

/// A prefix-cache block on the wire: its name (a hash of the prefix it ends) and the positions
/// [startPosition, startPosition + count) whose KV it holds.
public struct WireBlockRef: Sendable, Equatable, Hashable {
    public var name: UInt64
    public var startPosition: UInt32
    public var count: UInt32

    public init(name: UInt64, startPosition: UInt32, count: UInt32) {
        self.name = name
        self.startPosition = startPosition
        self.count = count
    }

    /// Encoded size.
    static let wireSize = 16
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
