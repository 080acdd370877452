import ServingTypes

extension Scheduler {
    /// Ends a request at once, in any state; unknown or finished ids return no actions.
    ///
    /// Waiting: removed from the queue. Running: its KV reservation is released now and a
    /// `.free` is returned now, even when its slot's batch is in the ring: the free travels
    /// behind that batch (the ring is FIFO), so each stage finishes the batch before dropping
    /// the KV, and every batch planned later arrives after the free. The sample that comes back
    /// for it is ignored. The last action is `.finished(…, reason: .cancelled, …)`.
    public mutating func cancel(_ id: SequenceID) -> [SchedulerEvent] {
        end(id, reason: .cancelled)
    }

    /// Ends a running sequence as finished (`.stop`): the coordinator's output processing found a
    /// stop string in its text. Frees and reports it as ``cancel(_:)`` does, with reason `.stop`.
    public mutating func stop(_ id: SequenceID) -> [SchedulerEvent] {
        end(id, reason: .stop)
    }

    private mutating func end(_ id: SequenceID, reason: FinishReason) -> [SchedulerEvent] {
        guard var s = sequences[id] else { return [] }
        var events: [SchedulerEvent] = []
        var frees = pendingFrees
        pendingFrees.removeAll()
        finish(&s, reason: reason, events: &events, frees: &frees)
        if !frees.isEmpty { events.insert(.free(frees), at: 0) }
        return events
    }

    /// The ring lost `slot`'s in-flight batch (a stage died or the link broke): the sequences it
    /// carried go back to the front of the queue, in admission order, with their generated
    /// tokens kept, to be recomputed. Their KV on the stages may be partial, so they are freed.
    /// Other sequences, whose KV is complete, stay. Completions arriving later for the lost batch,
    /// or for other batches carrying chunks of a requeued sequence, are ignored for it.
    public mutating func failSlot(_ slot: SlotIndex) -> [SchedulerEvent] {
        guard slot.rawValue >= 0, slot.rawValue < inFlight.count, let lost = inFlight[slot.rawValue] else { return [] }
        let admissions = inFlightAdmissions[slot.rawValue]
        inFlight[slot.rawValue] = nil
        inFlightAdmissions[slot.rawValue] = [:]
        stallGuard?.forgetReturn(of: slot.rawValue)  // its next return ends no rotation its streams saw
        var frees = pendingFrees
        pendingFrees.removeAll()
        forgetBlocks(of: lost)
        let affected = lost.entries.map(\.sequence).filter {
            guard let s = sequences[$0], s.slot != nil else { return false }
            return s.admissionOrder == admissions[$0]
        }
        requeue(sortedByAdmission(affected), frees: &frees)
        return frees.isEmpty ? [] : [.free(frees)]
    }

    /// The whole ring failed (stages restarting): every running sequence goes back to the front
    /// of the queue, in admission order, ahead of those already waiting, with its generated
    /// tokens kept; every in-flight batch is forgotten. The returned `.free` lists what the
    /// stages held; after a restart with empty caches it may be dropped.
    public mutating func failAll() -> [SchedulerEvent] {
        for k in inFlight.indices {
            inFlight[k] = nil
            inFlightAdmissions[k] = [:]
            stallGuard?.forgetReturn(of: k)  // a restart's gap is no rotation
        }
        var frees = pendingFrees
        pendingFrees.removeAll()
        requeue(sortedByAdmission(slotMembers.flatMap { $0 }), frees: &frees)
        // New stages start with empty block stores.
        prefixCache?.removeAll()
        pendingDrops.removeAll()
        return frees.isEmpty ? [] : [.free(frees)]
    }

    private func sortedByAdmission(_ ids: [SequenceID]) -> [SequenceID] {
        ids.sorted { (sequences[$0]?.admissionOrder ?? 0) < (sequences[$1]?.admissionOrder ?? 0) }
    }

    /// Requeues `ids` (oldest first) at the queue front, keeping their order.
    private mutating func requeue(_ ids: [SequenceID], frees: inout [SequenceID]) {
        for id in ids.reversed() { requeueForRecompute(id, frees: &frees) }
    }
}
