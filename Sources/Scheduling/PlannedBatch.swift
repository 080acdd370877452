import ServingTypes

/// One iteration of one slot, to be sent around the ring as a single micro-batch.
///
/// Carrying it out: first send a free message for ``freeBefore`` (if not empty), then the
/// batch. When its sampled tokens come back, call ``Scheduler/complete(batch:samples:)``.
public struct PlannedBatch: Sendable, Equatable {
    /// Matches the completion to this plan.
    public var id: BatchID
    /// The slot whose iteration this is.
    public var slot: SlotIndex
    /// Decodes first (in admission order), then prefill chunks.
    public var entries: [BatchEntry]
    /// Sequences preempted while planning (or earlier, with no batch since) whose KV every stage
    /// must drop *before* this batch, because this batch may use the room they leave.
    public var freeBefore: [SequenceID]
    /// Prefix-cache blocks every stage must drop before this batch (evicted from the index, or
    /// lost by a failed batch); stages ignore names they do not hold.
    public var dropBefore: [PrefixCache.BlockName]
    /// Prompt tokens of long prompts paced by the stall guard (see ``StallGuard``).
    public var pacedPromptTokens = 0

    public init(id: BatchID, slot: SlotIndex, entries: [BatchEntry], freeBefore: [SequenceID] = [],
                dropBefore: [PrefixCache.BlockName] = []) {
        self.id = id
        self.slot = slot
        self.entries = entries
        self.freeBefore = freeBefore
        self.dropBefore = dropBefore
    }

    /// Positions computed by this batch (decodes count one each).
    public var tokenCount: Int { entries.reduce(0) { $0 + $1.tokens.count } }
}

/// One sequence's part of a batch: positions `startPosition ..< startPosition + tokens.count`.
public struct BatchEntry: Sendable, Equatable {
    /// The sequence (the caller's id; the stages key its KV cache by it).
    public var sequence: SequenceID
    /// Position of the first token; also the KV length the stages must already hold.
    public var startPosition: Int
    /// A prefill chunk's prompt tokens, or, for a decode, the one token sampled last.
    public var tokens: [Int32]
    /// True for decodes and a prompt's last chunk: the last stage samples one token from the
    /// logits of the entry's last position.
    public var wantsSample: Bool
    /// Index of the token to be sampled among the sequence's generated tokens (= tokens
    /// generated before it). Sampling randomness keyed on (seed, tokenIndex) survives
    /// preemption and recompute. Meaningless when `wantsSample` is false.
    public var tokenIndex: Int
    /// True for a prefill chunk (prompt, or prompt + generated tokens after a preemption),
    /// false for a decode.
    public var isPrefill: Bool
    /// Cached blocks the stages copy into the sequence's (empty) KV before computing this entry,
    /// which then starts right after them. Only on the first entry of an admission.
    public var restoreBlocks: [BlockRef]
    /// Blocks whose last position this entry computes: after computing it, the stages keep a
    /// copy of their KV under these names.
    public var storeBlocks: [BlockRef]

    public init(sequence: SequenceID, startPosition: Int, tokens: [Int32],
                wantsSample: Bool, tokenIndex: Int, isPrefill: Bool,
                restoreBlocks: [BlockRef] = [], storeBlocks: [BlockRef] = []) {
        self.sequence = sequence
        self.startPosition = startPosition
        self.tokens = tokens
        self.wantsSample = wantsSample
        self.tokenIndex = tokenIndex
        self.isPrefill = isPrefill
        self.restoreBlocks = restoreBlocks
        self.storeBlocks = storeBlocks
    }

}

/// A prefix-cache block as the stages see it: a name and the positions it covers.
public struct BlockRef: Sendable, Equatable {
    public var name: PrefixCache.BlockName
    public var startPosition: Int
    public var count: Int

    public init(name: PrefixCache.BlockName, startPosition: Int, count: Int) {
        self.name = name
        self.startPosition = startPosition
        self.count = count
    }
}

/// A token sampled by the last stage for a sequence.
public struct SampledToken: Sendable, Equatable {
    public var sequence: SequenceID
    public var token: Int32

    public init(sequence: SequenceID, token: Int32) {
        self.sequence = sequence
        self.token = token
    }
}
