import ServingTypes

/// The scheduler's record of one submitted sequence, from submission to finish.
///
/// Positions: `tokens` = prompt + generated. While running, the first `computed` positions have
/// been sent to the ring (their KV exists on the stages, or will once the in-flight batch passes).
/// One admission prefills `prefillLength` positions: the prompt the first time, prompt + all
/// generated tokens after a preemption (recompute). After that, each decode feeds the last
/// sampled token at position `tokens.count - 1`.
///
/// `slot` is the sequence's home slot: its decodes travel there. Prefill chunks may ride in any
/// slot's batch (see ``Scheduler``), so several chunks of one sequence can be in the ring at once.
struct SequenceState: Sendable {
    let id: SequenceID
    let request: SequenceRequest
    var tokens: [Int32]
    var generatedCount: Int = 0

    /// nil while waiting.
    var slot: SlotIndex?
    var prefillLength: Int = 0
    var computed: Int = 0
    /// Orders admissions; the highest running one is the first preemption victim.
    var admissionOrder: UInt64 = 0
    /// Batches in the ring that carry this sequence (several while prefill chunks are pipelined).
    var inFlightBatches = 0
    var inFlight: Bool { inFlightBatches > 0 }
    /// Cached blocks this admission starts from (positions 0 ..< count · block size), retained in
    /// the prefix index until the first chunk that copies them is planned; then empty.
    var restoreBlocks: [PrefixCache.BlockName] = []
    /// Positions the latest admission took from the prefix cache instead of computing.
    var cachedTokens = 0
    /// Prefix-cache names of the full blocks of its tokens but the last, as of its admission.
    var prefixChain: [PrefixCache.BlockName] = []

    init(id: SequenceID, request: SequenceRequest) {
        self.id = id
        self.request = request
        self.tokens = request.prompt
    }

    /// KV tokens this sequence holds while running: the whole prefill is reserved on admission,
    /// then each decode adds one.
    var kvHeld: Int { slot == nil ? 0 : max(prefillLength, computed) }

    /// Prefill positions not yet sent.
    var prefillRemaining: Int { slot == nil ? 0 : max(0, prefillLength - computed) }

    /// Prefill done, last sample applied, not in the ring: the next step is a decode.
    var readyToDecode: Bool {
        slot != nil && !inFlight && computed >= prefillLength && computed == tokens.count - 1
    }

    /// Work this sequence adds to its slot's next iteration (for lightest-slot placement).
    var load: Int { prefillRemaining > 0 ? prefillRemaining : 1 }

    var usage: Usage {
        Usage(promptTokens: request.prompt.count, completionTokens: generatedCount, cachedTokens: min(cachedTokens, request.prompt.count))
    }
}
