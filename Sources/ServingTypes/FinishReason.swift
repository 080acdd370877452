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

    public init(promptTokens: Int, completionTokens: Int) {
        self.promptTokens = promptTokens
        self.completionTokens = completionTokens
    }

    public var totalTokens: Int { promptTokens + completionTokens }
}
