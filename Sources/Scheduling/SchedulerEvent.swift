import ServingTypes

/// Something the coordinator must do or tell a client, returned by the scheduler's mutating
/// methods. Carry the events out in order, before asking for the next batch: a `.free` must
/// reach the ring before any batch planned afterwards, because that batch may use the room.
public enum SchedulerEvent: Sendable, Equatable {
    /// Generated token number `index` (0-based) of the request. Emitted once per token, also for
    /// a stop token, never again after a preemption.
    case token(SequenceID, token: Int32, index: Int)
    /// The request is done; no more events follow for it.
    case finished(SequenceID, reason: FinishReason, usage: Usage)
    /// Every stage must drop the KV cache of these sequences (send one in-band free message).
    /// Stages must ignore ids they do not hold.
    case free([SequenceID])
}
