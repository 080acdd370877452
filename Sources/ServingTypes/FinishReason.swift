/// Why a sequence ended, spelled as OpenAI's `finish_reason` where a client sees it.
public enum FinishReason: String, Sendable, Equatable, Hashable {
    /// An end-of-generation token or a stop string.
    case stop
    /// `max_tokens` or the context length was reached.
    case length
    /// Cancelled (the client went away, the request timed out, shutdown); no client sees it.
    case cancelled
}

/// Token counts for the OpenAI `usage` object.
public struct Usage: Sendable, Equatable, Hashable {
    /// Tokens of the original prompt (recomputed tokens are not counted again).
    public var promptTokens: Int
    /// Tokens generated, including a stop token.
    public var completionTokens: Int
    /// Prompt tokens taken from the prefix cache instead of computed (≤ promptTokens).
    public var cachedTokens: Int

    public init(promptTokens: Int, completionTokens: Int, cachedTokens: Int = 0) {
        self.promptTokens = promptTokens
        self.completionTokens = completionTokens
        self.cachedTokens = cachedTokens
    }

    public var totalTokens: Int { promptTokens + completionTokens }
}
