/// The scheduler's limits. All token counts are in tokens (positions), not bytes or blocks.
///
/// Validation (``validate()``) follows vLLM's start-up checks: a single sequence of
/// `contextLength` tokens must fit in the KV budget (otherwise a long request could never run,
/// not even alone), and without chunked prefill one iteration must hold a whole context
/// (otherwise a long prompt, or a preempted sequence's recompute, could never be prefilled).
public struct SchedulerConfiguration: Sendable, Equatable {
    /// M, the number of micro-batch slots that circulate independently (>= 1; usually >= stages).
    public var microBatches: Int
    /// Per-iteration token budget of one slot: one per decode plus the prefill chunk tokens.
    public var maxBatchTokens: Int
    /// KV cache budget in tokens, the same on every stage. A sequence holds one token of KV per
    /// position computed (prompt + generated); its whole prompt is reserved when it is admitted.
    public var kvCacheTokens: Int
    /// Capacity of the waiting queue for new submissions (sequences requeued by preemption or
    /// failure are never refused, so the queue can exceed it transiently).
    public var maxQueue: Int
    /// Most sequences running (admitted, holding KV) at once, over all slots. A slot also holds
    /// at most `maxBatchTokens` sequences, so the effective cap is
    /// min(maxRunning, microBatches · maxBatchTokens).
    public var maxRunning: Int
    /// Longest sequence (prompt + generated tokens) the model serves.
    public var contextLength: Int
    /// When true, prompts are prefilled in chunks of at most `maxBatchTokens` minus the slot's
    /// decodes (and at most `prefillChunkTokens`); when false a prompt's whole prefill goes in one
    /// iteration.
    public var chunkedPrefill: Bool
    /// Most prompt tokens one micro-batch carries (with chunked prefill); nil = `maxBatchTokens`.
    /// In a pipeline the first micro-batch of a burst keeps every later stage idle until it has
    /// passed the stages before it, and the last keeps the earlier ones idle, so the fill and
    /// drain cost (stages − 1) × one chunk's stage time: smaller chunks shrink that bubble, at
    /// the price of reading the weights once per smaller chunk.
    public var prefillChunkTokens: Int?
    /// While any sequence decodes, its inter-token latency (one rotation of the ring) may be at
    /// most this many times what it is without prompt work (`StallGuard`, measured from returned
    /// batches; a prompt longer than `maxBatchTokens` is paced, one micro-batch with its tokens in
    /// the ring at a time); nil = no such limit (chunks as large as `prefillChunkTokens` whatever
    /// decodes).
    public var decodeStallLimit: Double?
    /// Positions per prefix-cache block (nil: no prefix cache). Computed KV is kept in blocks of
    /// this many positions, named by their prefix, so a later sequence with the same prefix
    /// starts from a copy instead of computing it (``PrefixCache``). Cached blocks share
    /// `kvCacheTokens` with the running sequences and are evicted first when those need room.
    public var prefixCacheBlockTokens: Int?

    /// Prompt tokens one micro-batch may carry.
    public var effectivePrefillChunkTokens: Int { min(maxBatchTokens, prefillChunkTokens ?? maxBatchTokens) }

    public init(microBatches: Int, maxBatchTokens: Int, kvCacheTokens: Int, maxQueue: Int,
                maxRunning: Int, contextLength: Int, chunkedPrefill: Bool = true, prefillChunkTokens: Int? = nil,
                decodeStallLimit: Double? = nil, prefixCacheBlockTokens: Int? = nil) {
        self.microBatches = microBatches
        self.maxBatchTokens = maxBatchTokens
        self.kvCacheTokens = kvCacheTokens
        self.maxQueue = maxQueue
        self.maxRunning = maxRunning
        self.contextLength = contextLength
        self.chunkedPrefill = chunkedPrefill
        self.prefillChunkTokens = prefillChunkTokens
        self.decodeStallLimit = decodeStallLimit
        self.prefixCacheBlockTokens = prefixCacheBlockTokens
    }

    /// Throws ``SchedulingError/invalidConfiguration(field:value:requirement:)`` naming the
    /// first field that is out of range.
    public func validate() throws {
        func require(_ ok: Bool, _ field: String, _ value: Int, _ requirement: String) throws {
            if !ok { throw SchedulingError.invalidConfiguration(field: field, value: value, requirement: requirement) }
        }
        try require(microBatches >= 1, "microBatches", microBatches, "must be >= 1")
        try require(maxBatchTokens >= 1, "maxBatchTokens", maxBatchTokens, "must be >= 1")
        try require(contextLength >= 2, "contextLength", contextLength, "must be >= 2")
        try require(kvCacheTokens >= contextLength, "kvCacheTokens", kvCacheTokens,
                    "must be >= contextLength (\(contextLength)) so that one full-length sequence fits")
        try require(maxQueue >= 0, "maxQueue", maxQueue, "must be >= 0")
        try require(maxRunning >= 1, "maxRunning", maxRunning, "must be >= 1")
        if let c = prefillChunkTokens { try require(c >= 1, "prefillChunkTokens", c, "must be >= 1") }
        if let b = prefixCacheBlockTokens {
            try require(b >= 1 && b <= contextLength, "prefixCacheBlockTokens", b, "must be between 1 and contextLength (\(contextLength))")
        }
        if let l = decodeStallLimit, !(l > 1) {
            throw SchedulingError.invalidConfiguration(field: "decodeStallLimit", value: Int(l.isFinite ? l : 0),
                                                       requirement: "must be > 1 (a multiple of a decode-only iteration's time)")
        }
        if !chunkedPrefill {
            try require(maxBatchTokens >= contextLength, "maxBatchTokens", maxBatchTokens,
                        "must be >= contextLength (\(contextLength)) when chunkedPrefill is false")
        }
    }
}
