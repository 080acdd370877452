import ServingTypes

/// The continuous-batching scheduler of a pipeline of stages: a value-type state machine with
/// no I/O, clock or threads. The coordinator calls its mutating methods and carries out what
/// they return.
///
/// Life of a sequence: ``submit(_:)`` puts it in a bounded FIFO queue. Planning a batch
/// (``nextBatch(for:)``) admits queued sequences while the KV budget and `maxRunning` allow and
/// gives each a home slot, the lightest (fewest tokens of pending work; ties → lowest index).
/// A slot's iteration holds the ready decodes of its own sequences, then prefill chunks within
/// `maxBatchTokens` (prompt tokens at most `prefillChunkTokens`): its own sequences' first, then
/// chunks of sequences whose home slot is busy in the ring. Chunks of one prompt may thus be in several micro-batches at once (the ring is
/// FIFO, so each stage still computes them in order), which keeps micro-batches even while a
/// long prompt is prefilled (SGLang's chunked pipeline prefill). Decodes always wait for the
/// previous sample. ``complete(batch:samples:)`` applies the sampled tokens, checks stop
/// conditions and frees finished sequences.
///
/// Driving it:
/// ```
/// submit → nextBatches() → send each (freeBefore, then batch)
/// samples of batch b arrive → complete(batch: b, …) → carry out events → nextBatches() → send
/// client gone → cancel(id) → carry out → nextBatches()
/// ```
/// Calling ``nextBatches()`` (not only ``nextBatch(for:)`` of the returning slot) after every
/// change starts slots that were idle and just received work.
///
/// KV budget and preemption (vLLM's recompute preemption): a running sequence holds KV for its
/// whole prefill (reserved at admission) plus one token per decode. Admission is FIFO and stops
/// at the first queued sequence whose prefill does not fit. When a decode would exceed the
/// budget, the most recently admitted running sequence that is not in the ring is preempted:
/// its KV is freed on every stage and it goes back to the front of the queue with prompt =
/// original prompt + tokens generated so far. Its generated tokens are kept, not re-emitted, and
/// its next token index continues where it stopped. If the sequence that needs the room is
/// itself the newest, it is the one preempted. Because a single full-context sequence always
/// fits (see ``SchedulerConfiguration/validate()``), the oldest sequence always progresses.
///
/// Prefix cache (with `prefixCacheBlockTokens`): admission looks up the longest cached block
/// prefix of the sequence's tokens before its last one and starts its prefill after it; the
/// first chunk tells the stages to copy those blocks into the sequence's KV (`restoreBlocks`).
/// Every entry that computes a block's last position — prompt chunks and decodes alike — tells
/// the stages to keep a copy (`storeBlocks`), so a conversation's next turn, a preempted
/// sequence's recompute and `n > 1` choices hit. Cached blocks count against `kvCacheTokens`
/// beside the running sequences; admission and decodes evict unreferenced blocks (least recently
/// used leaf first) before they wait or preempt, and a block is stored only when room is left.
/// A block is referenced only from lookup until its copy is planned: after that the stages
/// (FIFO) copy it before any later drop arrives. Evicted names reach the stages in
/// ``PlannedBatch/dropBefore``. A failed batch's stored blocks are forgotten (some stages may
/// lack them); ``failAll()`` forgets the whole index (new stages start empty).
///
/// Ordering argument for frees: the ring is FIFO (coordinator → stage 0 → … → last stage) and
/// control messages travel in-band. A free sent now reaches every stage after every batch sent
/// before it and before every batch sent after it. So KV released by a free may be reused at
/// once by the next batch, and a sequence in an in-flight batch may be freed at once: each stage
/// runs the batch, then drops the KV; its returning sample is ignored.
public struct Scheduler: Sendable {
    /// The limits this scheduler enforces.
    public internal(set) var configuration: SchedulerConfiguration

    var sequences: [SequenceID: SequenceState] = [:]
    /// Waiting sequences, front first.
    var waiting: [SequenceID] = []
    /// Running sequences of each slot, in admission order.
    var slotMembers: [[SequenceID]] = []
    /// The batch of each slot that is in the ring.
    var inFlight: [PlannedBatch?] = []
    /// For each in-flight batch, the admission of each sequence it carries, so that a batch
    /// returning after its sequence was requeued (and perhaps readmitted) is not applied to it.
    var inFlightAdmissions: [[SequenceID: UInt64]] = []
    /// Frees produced while planning that have not yet been handed out.
    var pendingFrees: [SequenceID] = []
    /// Prefix-cache blocks evicted or forgotten that no batch has told the stages about yet.
    var pendingDrops: [PrefixCache.BlockName] = []
    /// The prefix index (nil when the configuration has no prefix cache).
    public internal(set) var prefixCache: PrefixCache?
    /// KV positions reserved by running sequences (cached blocks come on top: ``kvTokensCached``).
    var kvUsed = 0
    var nextBatchNumber: UInt64 = 1
    var nextAdmission: UInt64 = 1

    /// Lifetime counters, for metrics.
    public internal(set) var counters = Counters()

    /// The measured rotations behind stall-free mixing (nil when `decodeStallLimit` is nil).
    public internal(set) var stallGuard: StallGuard?

    /// A stall guard for `c` (nil when it sets no `decodeStallLimit`).
    static func stallGuard(for c: SchedulerConfiguration) -> StallGuard? {
        c.decodeStallLimit.map {
            StallGuard(limit: $0, slots: c.microBatches, initial: c.effectivePrefillChunkTokens, ceiling: c.maxBatchTokens)
        }
    }

    /// Prompt tokens of long prompts the ring may carry per rotation while sequences decode (nil =
    /// no solo rotation measured yet, or no limit: only the configured chunk).
    public var decodingChunkTokens: Int? { stallGuard?.chunkTokens }

    /// Monotonic counts since the scheduler was made.
    public struct Counters: Sendable, Equatable {
        public var submitted = 0
        public var rejected = 0
        public var admitted = 0
        public var preempted = 0
        public var finished = 0
        public var cancelled = 0
        public var batchesPlanned = 0
        public var tokensPlanned = 0
        public var requeuedByFailure = 0
        /// Prompt positions looked up in the prefix cache at admission (all but each prompt's last).
        public var prefixQueryTokens = 0
        /// Of those, positions found cached (not computed).
        public var prefixHitTokens = 0
    }

    /// Makes an empty scheduler; throws if the configuration is invalid.
    public init(configuration: SchedulerConfiguration) throws {
        try configuration.validate()
        self.configuration = configuration
        self.stallGuard = Self.stallGuard(for: configuration)
        self.prefixCache = configuration.prefixCacheBlockTokens.map { PrefixCache(blockSize: $0) }
        emptySlots(configuration.microBatches)
    }

    /// Tells the stall guard that `batch` came back at `nanoseconds` (a monotonic clock): the
    /// time between two returns of a slot whose streams decode is their inter-token latency.
    public mutating func recordReturn(of batch: PlannedBatch, atNanoseconds nanoseconds: UInt64) {
        guard stallGuard != nil else { return }
        let prompt = batch.entries.reduce(0) { $0 + ($1.isPrefill ? $1.tokens.count : 0) }
        let decodes = batch.entries.reduce(0) { $0 + ($1.isPrefill ? 0 : 1) }
        let others = inFlight.contains { b in
            guard let b, b.id != batch.id else { return false }
            return b.entries.contains(where: \.isPrefill)
        }
        stallGuard?.recordReturn(slot: batch.slot.rawValue, decodes: decodes, pacedTokens: batch.pacedPromptTokens,
                                 otherPromptTokens: prompt - batch.pacedPromptTokens, promptInFlight: others,
                                 atNanoseconds: nanoseconds)
    }

    /// Queues a sequence, or says why not.
    public mutating func submit(_ request: SequenceRequest) -> SubmitResult {
        let c = configuration
        let rejection: SubmitRejection?
        if sequences[request.id] != nil {
            rejection = .duplicateID(request.id)
        } else if request.prompt.isEmpty {
            rejection = .emptyPrompt
        } else if request.maxTokens < 1 {
            rejection = .invalidMaxTokens(request.maxTokens)
        } else if request.prompt.count + request.maxTokens > c.contextLength {
            rejection = .tooLong(reason: "prompt (\(request.prompt.count) tokens) + max_tokens (\(request.maxTokens)) "
                + "exceeds the context length of \(c.contextLength) tokens")
        } else if waiting.count >= c.maxQueue {
            rejection = .queueFull(capacity: c.maxQueue)
        } else {
            rejection = nil
        }
        if let rejection {
            counters.rejected += 1
            return .rejected(rejection)
        }
        let id = request.id
        sequences[id] = SequenceState(id: id, request: request)
        waiting.append(id)
        counters.submitted += 1
        return .queued(id)
    }

    // MARK: Queries

    /// Sequences waiting for admission (new and requeued).
    public var waitingCount: Int { waiting.count }
    /// Sequences admitted and not finished.
    public var runningCount: Int { slotMembers.reduce(0) { $0 + $1.count } }
    /// KV tokens reserved by running sequences (equal on every stage).
    public var kvTokensUsed: Int { kvUsed }
    /// KV positions the stages keep for the prefix cache (within `kvCacheTokens` with the above).
    public var kvTokensCached: Int { prefixCache?.tokenCount ?? 0 }
    /// Positions the latest admission of a running sequence took from the prefix cache.
    public func cachedTokens(of id: SequenceID) -> Int? { sequences[id]?.cachedTokens }
    /// Batches currently in the ring.
    public var batchesInFlight: Int { inFlight.reduce(0) { $0 + ($1 == nil ? 0 : 1) } }
    /// Tokens (positions) in the batches currently in the ring.
    public var tokensInFlight: Int { inFlight.reduce(0) { $0 + ($1?.tokenCount ?? 0) } }
    /// Whether the slot has a batch in the ring.
    public func isInFlight(_ slot: SlotIndex) -> Bool {
        slot.rawValue >= 0 && slot.rawValue < inFlight.count && inFlight[slot.rawValue] != nil
    }
    /// Tokens of work each slot's next iteration would want (remaining prefill + one per decode).
    public var slotLoads: [Int] { slotMembers.map { $0.reduce(0) { $0 + (sequences[$1]?.load ?? 0) } } }
    /// Number of running sequences per slot.
    public var slotSequenceCounts: [Int] { slotMembers.map(\.count) }
    /// Whether a sequence is waiting or running.
    public func contains(_ id: SequenceID) -> Bool { sequences[id] != nil }
    /// The slot of a running sequence (nil while waiting or unknown).
    public func slot(of id: SequenceID) -> SlotIndex? { sequences[id]?.slot }
    /// Tokens generated so far by a waiting or running sequence.
    public func generatedCount(of id: SequenceID) -> Int? { sequences[id]?.generatedCount }
    /// True when nothing is waiting, running or in the ring.
    public var isIdle: Bool { sequences.isEmpty && batchesInFlight == 0 }
}
