import ServingTypes

extension Scheduler {
    /// Applies the tokens sampled for `batch` and returns what to report and free. The scheduler
    /// decides on token ids and lengths only; text, stop strings and logprobs are the
    /// coordinator's output processing, which ends a sequence with ``stop(_:)`` when a stop
    /// string matches.
    ///
    /// Unknown or stale batch ids (e.g. after ``failSlot(_:)``) return no events. Samples of
    /// sequences that were cancelled or requeued since the batch left are ignored. A sequence
    /// that wanted a sample but got none is requeued for recompute (its KV is freed) rather
    /// than left stuck. Per sample: `.token`, then `.finished` when a stop token, maxTokens or
    /// the context length ends it. Finished sequences are freed in one trailing `.free` event.
    public mutating func complete(batch: BatchID, samples: [SampledToken]) -> [SchedulerEvent] {
        guard let k = inFlight.firstIndex(where: { $0?.id == batch }), let planned = inFlight[k] else { return [] }
        inFlight[k] = nil
        let admissions = inFlightAdmissions[k]
        inFlightAdmissions[k] = [:]
        var bySequence: [SequenceID: SampledToken] = [:]
        for sample in samples where bySequence[sample.sequence] == nil { bySequence[sample.sequence] = sample }

        var events: [SchedulerEvent] = []
        var frees = pendingFrees
        pendingFrees.removeAll()
        for entry in planned.entries {
            guard var s = sequences[entry.sequence], s.slot != nil, s.inFlight,
                  s.admissionOrder == admissions[entry.sequence] else { continue }
            s.inFlightBatches -= 1
            sequences[entry.sequence] = s
            guard entry.wantsSample else { continue }
            guard let sample = bySequence[entry.sequence] else {
                requeueForRecompute(entry.sequence, frees: &frees)
                continue
            }
            if let reason = apply(sample, to: &s, events: &events) {
                finish(&s, reason: reason, events: &events, frees: &frees)
            } else {
                sequences[entry.sequence] = s
            }
        }
        if !frees.isEmpty { events.append(.free(frees)) }
        return events
    }

    /// Appends one sampled token and returns a finish reason if it ends the sequence.
    private func apply(_ sample: SampledToken, to s: inout SequenceState, events: inout [SchedulerEvent]) -> FinishReason? {
        s.tokens.append(sample.token)
        s.generatedCount += 1
        events.append(.token(s.id, token: sample.token, index: s.generatedCount - 1))
        if s.request.stopTokenIDs.contains(sample.token) { return .stop }
        if s.generatedCount >= s.request.maxTokens || s.tokens.count >= configuration.contextLength { return .length }
        return nil
    }

    /// Removes a sequence for good (finished or cancelled).
    mutating func finish(_ s: inout SequenceState, reason: FinishReason, events: inout [SchedulerEvent],
                         frees: inout [SequenceID]) {
        if let slot = s.slot {
            if s.computed > 0 { frees.append(s.id) }
            detach(&s, from: slot)
        } else {
            waiting.removeAll { $0 == s.id }
        }
        sequences[s.id] = nil
        if reason == .cancelled { counters.cancelled += 1 } else { counters.finished += 1 }
        events.append(.finished(s.request.id, reason: reason, usage: s.usage))
    }

    /// Frees a running sequence and puts it back at the front of the queue, keeping its tokens.
    mutating func requeueForRecompute(_ id: SequenceID, frees: inout [SequenceID]) {
        guard var s = sequences[id], let slot = s.slot else { return }
        if s.computed > 0 { frees.append(id) }
        detach(&s, from: slot)
        sequences[id] = s
        waiting.insert(id, at: 0)
        counters.requeuedByFailure += 1
    }
}
