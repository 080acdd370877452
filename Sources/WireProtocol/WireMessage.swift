import ServingTypes

/// Every message that travels on a pipeserve link. Control messages (free, reset, shutdown)
/// travel in-band on the ring so they stay ordered with the work they concern.
public enum WireMessage: Sendable, Equatable {
    /// First message on a link, sender → receiver: versions, model, and the receiver's job.
    case hello(WireHello)
    /// The receiver accepted a `hello`.
    case helloAck(WireHelloAck)
    /// A micro-batch on its way through the stages (tokens and/or hidden states).
    case forwardBatch(WireForwardBatch)
    /// The last stage's sampled tokens for a micro-batch, on their way to the coordinator.
    case sampledTokens(WireSampledTokens)
    /// Drop the KV cache of these sequences.
    case freeSequences([SequenceID])
    /// Drop these prefix-cache blocks (names the stage does not hold are ignored).
    case dropBlocks([UInt64])
    /// Drop all sequences' state.
    case reset
    /// Liveness probe; the receiver forwards or answers it.
    case heartbeat(WireHeartbeat)
    /// Finish and exit.
    case shutdown
    /// A refusal (e.g. of a `hello`) or a fatal condition, before the sender closes the link.
    case error(WireErrorReport)

    /// The frame type this message is sent as.
    public var type: WireMessageType {
        switch self {
        case .hello: return .hello
        case .helloAck: return .helloAck
        case .forwardBatch: return .forwardBatch
        case .sampledTokens: return .sampledTokens
        case .freeSequences: return .freeSequences
        case .reset: return .reset
        case .heartbeat: return .heartbeat
        case .shutdown: return .shutdown
        case .error: return .error
        case .dropBlocks: return .dropBlocks
        }
    }
}

/// The u16 type field of a frame header.
public enum WireMessageType: UInt16, Sendable, CaseIterable, CustomStringConvertible {
    case hello = 1
    case helloAck = 2
    case forwardBatch = 3
    case sampledTokens = 4
    case freeSequences = 5
    case reset = 6
    case heartbeat = 7
    case shutdown = 8
    case error = 9
    case dropBlocks = 10

    public var description: String {
        switch self {
        case .hello: return "hello"
        case .helloAck: return "helloAck"
        case .forwardBatch: return "forwardBatch"
        case .sampledTokens: return "sampledTokens"
        case .freeSequences: return "freeSequences"
        case .reset: return "reset"
        case .heartbeat: return "heartbeat"
        case .shutdown: return "shutdown"
        case .error: return "error"
        case .dropBlocks: return "dropBlocks"
        }
    }
}
