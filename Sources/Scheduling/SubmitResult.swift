import ServingTypes

/// The answer to ``Scheduler/submit(_:)``.
public enum SubmitResult: Sendable, Equatable {
    /// Accepted into the waiting queue (the caller's id, also the KV id on the stages).
    case queued(SequenceID)
    /// Refused; nothing was kept. Map ``SubmitRejection/queueFull(capacity:)`` to HTTP 503 +
    /// Retry-After and the others to 400.
    case rejected(SubmitRejection)
}

/// Why a submission was refused.
public enum SubmitRejection: Sendable, Equatable, CustomStringConvertible {
    /// The waiting queue already holds `capacity` requests.
    case queueFull(capacity: Int)
    /// The prompt has no tokens.
    case emptyPrompt
    /// maxTokens is below 1.
    case invalidMaxTokens(Int)
    /// prompt + maxTokens exceeds the context length; `reason` is a client-facing sentence.
    case tooLong(reason: String)
    /// A sequence with this id is still waiting or running.
    case duplicateID(SequenceID)

    /// A sentence fit for an error message.
    public var description: String {
        switch self {
        case let .queueFull(capacity): return "the waiting queue is full (\(capacity) requests)"
        case .emptyPrompt: return "the prompt is empty"
        case let .invalidMaxTokens(n): return "max_tokens must be at least 1, got \(n)"
        case let .tooLong(reason): return reason
        case let .duplicateID(id): return "\(id) is already queued or running"
        }
    }
}
