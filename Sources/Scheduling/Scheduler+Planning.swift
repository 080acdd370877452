import ServingTypes

extension Scheduler {
    /// Composes the next iteration of `slot`: nil when the slot already has a batch in the ring,
    /// the index is out of range, or it has nothing to do.
    ///
    /// First admits waiting sequences (FIFO, while KV budget and `maxRunning` allow) onto the
    /// lightest slots, then plans this slot's decodes (admission order, preempting on KV
    /// exhaustion) and prefill chunks within `maxBatchTokens` (and `prefillChunkTokens`).
    public mutating func nextBatch(for slot: SlotIndex) -> PlannedBatch? {
        guard slot.rawValue >= 0, slot.rawValue < inFlight.count, inFlight[slot.rawValue] == nil else { return nil }
        admitWaiting()
        return compose(slot)
    }

    /// The next batch of every idle slot with work, lowest slot first. Admission happens once,
    /// before any slot is composed, so new sequences spread over all idle slots.
    public mutating func nextBatches() -> [PlannedBatch] {
        admitWaiting()
        var out: [PlannedBatch] = []
        for k in 0 ..< inFlight.count where inFlight[k] == nil {
            if let b = compose(SlotIndex(k)) { out.append(b) }
        }
        return out
    }

    /// Moves queued sequences into slots while their prefill fits the KV budget and some slot
    /// has fewer than `maxBatchTokens` sequences (so no decode is ever crowded out of its slot's
    /// iteration). Stops at the first that does not fit (no overtaking: a long prompt is not
    /// starved by short ones). With a prefix cache, a sequence whose next uncached block a running
    /// sequence is computing right now (the same prompt prefix: `n > 1`, chats arriving together)
    /// waits in its place, overtaken, until that block is stored, and then starts from it.
    mutating func admitWaiting() {
        var i = 0
        while i < waiting.count, runningCount < configuration.maxRunning {
            let id = waiting[i]
            guard var s = sequences[id] else { waiting.remove(at: i); continue }
            // A slot takes at most maxBatchTokens sequences, so each can decode every iteration.
            let loads = slotLoads
            var best = -1
            for k in loads.indices where slotMembers[k].count < configuration.maxBatchTokens {
                if best < 0 || loads[k] < loads[best] { best = k }
            }
            guard best >= 0 else { return }
            // Cached blocks it starts from are held while room is made (evicting others).
            let chain = prefixCache?.chain(of: s.tokens.dropLast()) ?? []
            let hit = lookUpPrefix(s.tokens, chain: chain)
            if hit.count < chain.count, isBeingComputed(chain[hit.count], index: hit.count) {
                prefixCache?.release(hit)
                i += 1
                continue
            }
            guard makeRoom(s.tokens.count) else {
                prefixCache?.release(hit)
                return
            }
            waiting.remove(at: i)
            s.prefixChain = chain
            s.slot = SlotIndex(best)
            s.prefillLength = s.tokens.count
            s.restoreBlocks = hit
            s.computed = hit.count * (prefixCache?.blockSize ?? 0)
            s.cachedTokens = s.computed
            if prefixCache != nil {
                counters.prefixQueryTokens += s.tokens.count - 1
                counters.prefixHitTokens += s.computed
            }
            s.inFlightBatches = 0
            s.admissionOrder = nextAdmission
            nextAdmission += 1
            kvUsed += s.kvHeld
            sequences[id] = s
            slotMembers[best].append(id)
            counters.admitted += 1
        }
    }

    private mutating func compose(_ slot: SlotIndex) -> PlannedBatch? {
        let k = slot.rawValue
        var budget = configuration.maxBatchTokens
        var entries: [BatchEntry] = []
        // Blocks evicted while this batch is composed may be ones it stores or restores: their
        // drops go with the next batch, after this one.
        let dropsBefore = pendingDrops
        pendingDrops.removeAll()
        defer { if entries.isEmpty { pendingDrops = dropsBefore + pendingDrops } }

        // Decodes, oldest admission first; the newest are the preemption victims.
        for id in slotMembers[k] {
            guard budget > 0 else { break }
            guard let s = sequences[id], s.slot == slot, s.readyToDecode else { continue }
            var preemptedSelf = false
            while !makeRoom(1) {  // cached blocks go first, then the newest sequences
                guard let victim = preemptionVictim() else { break }
                preempt(victim)
                if victim == id { preemptedSelf = true; break }
            }
            guard !preemptedSelf, fits(1), var d = sequences[id] else { continue }
            let stores = storeBlocks(of: d.tokens, from: d.computed, to: d.computed + 1)
            entries.append(BatchEntry(sequence: id, startPosition: d.computed,
                                      tokens: [d.tokens[d.tokens.count - 1]], wantsSample: true,
                                      tokenIndex: d.generatedCount, isPrefill: false, storeBlocks: stores))
            kvUsed -= d.kvHeld
            d.computed += 1
            d.inFlightBatches += 1
            kvUsed += d.kvHeld
            sequences[id] = d
            budget -= 1
        }

        // Prefill chunks: first of this slot's sequences, then of sequences whose home slot has
        // a batch in the ring (an idle slot takes its own), oldest admission first. A chunk need
        // not wait for the previous chunk of its sequence to come back: that one was sent
        // earlier, so every stage (FIFO) has computed it before this one arrives. This lets one
        // long prompt fill the token budget of every slot's micro-batch in turn, keeping the
        // micro-batches even (chunked pipeline prefill, as in SGLang), instead of making its
        // home slot's batch the one everybody waits for.
        var chunkRoom = configuration.effectivePrefillChunkTokens
        // Stall-free mixing: while any sequence decodes, a long prompt (more than maxBatchTokens:
        // seconds of prefill) is paced to its end — one micro-batch with its chunks in the ring at a
        // time, carrying what the stall guard allows, so every stream's rotation carries one
        // chunk (see StallGuard). A short prompt is a one-off cost of a rotation or two and goes
        // in chunks as configured: pacing it too would starve a busy server's new requests.
        var pacedRoom: Int?
        if let allowed = decodingChunkTokens, hasDecodingSequences {
            pacedRoom = pacedPromptInFlight ? 0 : allowed
        }
        var paced = 0
        for id in prefillCandidates(for: slot) {
            guard budget > 0 else { break }
            guard var s = sequences[id], s.prefillRemaining > 0 else { continue }
            let n: Int
            if configuration.chunkedPrefill {
                if let room = pacedRoom, s.prefillLength > configuration.maxBatchTokens {
                    guard room > 0 else { continue }
                    n = min(s.prefillRemaining, budget, room)
                    pacedRoom = room - n
                    paced += n
                } else {
                    guard chunkRoom > 0 else { continue }
                    n = min(s.prefillRemaining, budget, chunkRoom)
                    chunkRoom -= n
                }
            } else {
                guard s.prefillRemaining <= budget else { break }  // whole prompts only, in FIFO order
                n = s.prefillRemaining
            }
            let start = s.computed
            let last = start + n == s.prefillLength
            let restores = takeRestore(&s)
            let stores = storeBlocks(of: s.tokens, from: start, to: start + n)
            entries.append(BatchEntry(sequence: id, startPosition: start,
                                      tokens: Array(s.tokens[start ..< start + n]), wantsSample: last,
                                      tokenIndex: s.generatedCount, isPrefill: true,
                                      restoreBlocks: restores, storeBlocks: stores))
            s.computed += n  // KV already reserved at admission
            s.inFlightBatches += 1
            sequences[id] = s
            budget -= n
        }

        guard !entries.isEmpty else { return nil }
        var batch = PlannedBatch(id: BatchID(nextBatchNumber), slot: slot, entries: entries, freeBefore: pendingFrees,
                                 dropBefore: dropsBefore)
        batch.pacedPromptTokens = paced
        nextBatchNumber += 1
        pendingFrees.removeAll()
        inFlight[k] = batch
        var admissions: [SequenceID: UInt64] = [:]
        for e in entries { admissions[e.sequence] = sequences[e.sequence]?.admissionOrder }
        inFlightAdmissions[k] = admissions
        counters.batchesPlanned += 1
        counters.tokensPlanned += batch.tokenCount
        return batch
    }

    /// Whether a running sequence will compute block `index` named `name` in a chunk not yet planned.
    private func isBeingComputed(_ name: PrefixCache.BlockName, index: Int) -> Bool {
        guard let b = prefixCache?.blockSize else { return false }
        for members in slotMembers {
            for id in members {
                guard let r = sequences[id], r.prefixChain.count > index, r.prefixChain[index] == name,
                      r.computed < (index + 1) * b else { continue }
                return true
            }
        }
        return false
    }

    /// Whether a batch in the ring carries paced prompt tokens (of a long prompt).
    var pacedPromptInFlight: Bool {
        inFlight.contains { ($0?.pacedPromptTokens ?? 0) > 0 }
    }

    /// Whether any running sequence has finished its prefill (its stream is waiting for tokens).
    var hasDecodingSequences: Bool {
        slotMembers.contains { members in members.contains { sequences[$0].map { $0.prefillRemaining == 0 } ?? false } }
    }

    /// Sequences with prefill left that `slot` may carry: its own, then those of busy slots.
    private func prefillCandidates(for slot: SlotIndex) -> [SequenceID] {
        var own: [(SequenceID, UInt64)] = []
        var borrowed: [(SequenceID, UInt64)] = []
        for (k, members) in slotMembers.enumerated() where k == slot.rawValue || inFlight[k] != nil {
            for id in members {
                guard let s = sequences[id], s.prefillRemaining > 0 else { continue }
                if k == slot.rawValue { own.append((id, s.admissionOrder)) } else { borrowed.append((id, s.admissionOrder)) }
            }
        }
        return (own.sorted { $0.1 < $1.1 } + borrowed.sorted { $0.1 < $1.1 }).map(\.0)
    }

    /// The most recently admitted running sequence that is not in the ring.
    private func preemptionVictim() -> SequenceID? {
        var best: (SequenceID, UInt64)?
        for members in slotMembers {
            for id in members {
                guard let s = sequences[id], !s.inFlight else { continue }
                if best == nil || s.admissionOrder > best!.1 { best = (id, s.admissionOrder) }
            }
        }
        return best?.0
    }

    /// Frees a running sequence's KV and puts it at the front of the queue for recompute.
    private mutating func preempt(_ id: SequenceID) {
        guard var s = sequences[id], let slot = s.slot else { return }
        if s.computed > 0 { pendingFrees.append(id) }
        detach(&s, from: slot)
        sequences[id] = s
        waiting.insert(id, at: 0)
        counters.preempted += 1
    }

    /// Takes a running sequence out of its slot and releases its KV reservation.
    mutating func detach(_ s: inout SequenceState, from slot: SlotIndex) {
        kvUsed -= s.kvHeld
        prefixCache?.release(s.restoreBlocks)
        s.restoreBlocks = []
        slotMembers[slot.rawValue].removeAll { $0 == s.id }
        s.slot = nil
        s.computed = 0
        s.prefillLength = 0
        s.inFlightBatches = 0
    }
}
