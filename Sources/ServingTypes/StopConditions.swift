/// When a sequence stops generating, as the client asked for it.
public struct StopConditions: Sendable, Equatable, Hashable {
    /// Most tokens to generate (>= 1); reaching it finishes with ``FinishReason/length``.
    public var maxTokens: Int
    /// Strings that end generation wherever they appear in the generated text, also across
    /// token boundaries; the text is cut before the first match.
    public var stopStrings: [String]
    /// Keep generating past the model's end-of-generation tokens (vLLM's `ignore_eos`).
    public var ignoreEOS: Bool

    public init(maxTokens: Int, stopStrings: [String] = [], ignoreEOS: Bool = false) {
        self.maxTokens = maxTokens
        self.stopStrings = stopStrings
        self.ignoreEOS = ignoreEOS
    }
}
