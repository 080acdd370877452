extension Scheduler {
    /// Changes the number of micro-batch slots (a new partition was applied). Allowed only when no
    /// sequence is running and no batch is in the ring — after ``failAll()`` every running
    /// sequence is back in the queue, so a coordinator drains the ring, calls `failAll`, then
    /// this. Waiting sequences keep their place and their generated tokens. `prefillChunkTokens`,
    /// when given, replaces the prompt tokens per micro-batch (a new M usually wants new chunks).
    public mutating func resize(microBatches: Int, prefillChunkTokens: Int? = nil) throws {
        var c = configuration
        c.microBatches = microBatches
        if let prefillChunkTokens { c.prefillChunkTokens = prefillChunkTokens }
        try c.validate()
        guard runningCount == 0, batchesInFlight == 0 else {
            throw SchedulingError.invalidConfiguration(field: "microBatches", value: microBatches,
                                                       requirement: "can change only while nothing runs (call failAll first)")
        }
        configuration = c
        // A new partition computes at a new speed: learn the latencies again.
        stallGuard = Self.stallGuard(for: c)
        emptySlots(microBatches)
    }

    /// `count` slots with no members and nothing in the ring.
    mutating func emptySlots(_ count: Int) {
        slotMembers = Array(repeating: [], count: count)
        inFlight = Array(repeating: nil, count: count)
        inFlightAdmissions = Array(repeating: [:], count: count)
    }
}
