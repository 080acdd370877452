import ServingTypes

/// One sequence the coordinator wants generated. The API layer makes one per choice (n > 1
/// means n requests with distinct ids). Sampling parameters, text and stop strings stay with the
/// coordinator: the scheduler only needs the token ids and lengths that decide when generation
/// stops.
public struct SequenceRequest: Sendable, Equatable {
    /// The caller's id; every event about this sequence carries it.
    public var id: SequenceID
    /// Prompt token ids (must not be empty).
    public var prompt: [Int32]
    /// Most tokens to generate (>= 1); reaching it finishes with ``FinishReason/length``.
    public var maxTokens: Int
    /// Token ids that end generation (EOS/EOG); the stop token's text is not emitted.
    public var stopTokenIDs: Set<Int32>

    public init(id: SequenceID, prompt: [Int32], maxTokens: Int, stopTokenIDs: Set<Int32> = []) {
        self.id = id
        self.prompt = prompt
        self.maxTokens = maxTokens
        self.stopTokenIDs = stopTokenIDs
    }
}
