/// Something the coordinator must do or tell a client, returned by the scheduler's mutating
/// methods. Carry the events out in order, before asking for the next batch: a `.free` must
/// reach the ring before any batch planned afterwards, because that batch may use the room.
public enum SchedulerEvent: Sendable, Equatable {
    /// Generated token number `index` (0-based) of the request. Emitted once per token, also for
    /// a stop token, never again after a preemption.
    case token(RequestID, token: Int32, index: Int)
    /// New text to stream. Text that could still be the start of a stop string is held back
    /// until it cannot; never empty.
    case text(RequestID, String)
    /// The request is done; no more events follow for it.
    case finished(RequestID, reason: FinishReason, usage: Usage)
    /// Every stage must drop the KV cache of these sequences (send one in-band free message).
    /// Stages must ignore ids they do not hold.
    case free([SequenceID])
}

/// The name under which ``Scheduler/cancel(_:)`` and the failure helpers return their work;
/// the same enum as ``SchedulerEvent``.
public typealias SchedulerAction = SchedulerEvent

/// Why a request finished, as the OpenAI `finish_reason`.
public enum FinishReason: String, Sendable, Equatable {
    /// A stop token or stop string.
    case stop
    /// maxTokens or the context length was reached.
    case length
    /// ``Scheduler/cancel(_:)`` (client gone, shutdown).
    case cancelled
}

/// Token counts for the OpenAI `usage` object.
public struct Usage: Sendable, Equatable {
    /// Tokens of the original prompt (recomputed tokens are not counted again).
    public var promptTokens: Int
    /// Tokens generated, including a stop token.
    public var completionTokens: Int

    public init(promptTokens: Int, completionTokens: Int) {
        self.promptTokens = promptTokens
        self.completionTokens = completionTokens
    }
}
