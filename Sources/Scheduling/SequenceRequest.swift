import ServingTypes

/// One sequence the coordinator wants generated. The API layer makes one per choice (n > 1
/// means n requests with distinct ids). Sampling parameters stay with the coordinator: the
/// scheduler only needs what decides when generation stops.
public struct SequenceRequest: Sendable, Equatable {
    /// The caller's id; every event about this sequence carries it.
    public var id: SequenceID
    /// Prompt token ids (must not be empty).
    public var prompt: [Int32]
    /// Most tokens to generate (>= 1); reaching it finishes with ``FinishReason/length``.
    public var maxTokens: Int
    /// Token ids that end generation (EOS/EOG); the stop token's text is not emitted.
    public var stopTokenIDs: Set<Int32>
    /// Strings that end generation wherever they appear in the generated text, also across
    /// token boundaries. The text is cut at the first match.
    public var stopStrings: [String]
    /// When true the matched stop string is emitted before finishing; the default cuts it off.
    public var includeStopStringInOutput: Bool

    public init(id: SequenceID, prompt: [Int32], maxTokens: Int, stopTokenIDs: Set<Int32> = [],
                stopStrings: [String] = [], includeStopStringInOutput: Bool = false) {
        self.id = id
        self.prompt = prompt
        self.maxTokens = maxTokens
        self.stopTokenIDs = stopTokenIDs
        self.stopStrings = stopStrings
        self.includeStopStringInOutput = includeStopStringInOutput
    }
}
