import ServingTypes
import CPlatform
import ModelRuntime

/// What a stage does with one forward batch, apart from any I/O: run its layer range, and on the
/// last stage sample each sequence's next token. Keeps each sequence's token history (for
/// penalties) on the last stage. Driven by `StageRunner`'s loop, tested directly.
public final class StageEngine {
    /// One sequence's part of a batch, as the stage needs it.
    public struct Entry: Sendable, Equatable {
        public var sequence: SequenceID
        public var startPosition: Int
        public var count: Int
        public var logits: LogitsRequest
        /// Token ids of the chunk (required on stage 0; used for the last stage's penalty history).
        public var tokens: [Int32]
        public var sampling: SamplingParameters
        /// Index of the token to be sampled within its request (randomness is a function of it).
        public var tokenIndex: Int
        /// Top logprobs to return with the sample (0 = none; the chosen token's logprob comes with any > 0 or when `wantLogprob`).
        public var topLogprobs: Int
        public var wantLogprob: Bool
        /// Prefix-cache blocks to start the sequence from (its KV must be empty); the entry
        /// starts right after them.
        public var restoreBlocks: [KVBlockRef]
        /// Blocks to keep a copy of once the entry is computed.
        public var storeBlocks: [KVBlockRef]

        public init(sequence: SequenceID, startPosition: Int, count: Int, logits: LogitsRequest, tokens: [Int32],
                    sampling: SamplingParameters, tokenIndex: Int, topLogprobs: Int = 0, wantLogprob: Bool = false,
                    restoreBlocks: [KVBlockRef] = [], storeBlocks: [KVBlockRef] = []) {
            self.sequence = sequence; self.startPosition = startPosition; self.count = count; self.logits = logits
            self.tokens = tokens; self.sampling = sampling; self.tokenIndex = tokenIndex
            self.topLogprobs = topLogprobs; self.wantLogprob = wantLogprob
            self.restoreBlocks = restoreBlocks; self.storeBlocks = storeBlocks
        }
    }

    /// A sampled token of one sequence.
    public struct Sample: Sendable, Equatable {
        public var sequence: SequenceID
        public var token: Int32
        public var logprob: Float?
        public var topLogprobs: [TokenLogprob]
    }

    public struct TokenLogprob: Sendable, Equatable {
        public var token: Int32
        public var logprob: Float
    }

    /// Output of a batch: hidden states for the next stage, or samples from the last.
    public enum Output: Sendable {
        case hidden([Float])
        case samples([Sample])
    }

    public let model: LayerRangeModel
    private var histories: [SequenceID: [Int32]] = [:]

    public init(model: LayerRangeModel) { self.model = model }

    /// Runs a batch: restores the prefix-cache blocks entries start from, computes, stores the
    /// blocks entries complete. On error nothing has changed (restored sequences are freed
    /// again; see `LayerRangeModel.forward`); a missing block throws
    /// `ModelRuntimeError.blockMissing` before anything runs.
    public func run(_ entries: [Entry], hidden: [Float]?) throws -> Output {
        let chunks = entries.map { e in
            e.tokens.isEmpty
                ? SequenceChunk(sequence: e.sequence, startPosition: e.startPosition, count: e.count, logits: e.logits)
                : SequenceChunk(sequence: e.sequence, startPosition: e.startPosition, tokens: e.tokens, logits: e.logits)
        }
        let restoring = entries.filter { !$0.restoreBlocks.isEmpty }
        for e in restoring {
            if let name = model.missingBlocks(e.restoreBlocks).first { throw ModelRuntimeError.blockMissing(name: name) }
        }
        let out: ForwardOutput
        do {
            for e in restoring { try model.restore(e.sequence, from: e.restoreBlocks) }
            out = try model.forward(chunks, hidden: model.isFirst ? nil : hidden)
        } catch {
            for e in restoring { model.free(e.sequence) }
            throw error
        }
        storeBlocks(of: entries)
        guard model.isLast else { return .hidden(out.hidden) }
        // History: the tokens at positions before each chunk's end (prompt chunks and fed-back samples).
        for e in entries {
            var h = histories[e.sequence] ?? []
            if h.count > e.startPosition { h.removeLast(h.count - e.startPosition) }
            h += e.tokens
            histories[e.sequence] = h
        }
        var samples: [Sample] = []
        for (row, info) in out.logitRows.enumerated() {
            let e = entries[info.chunk]
            // Only the chunk's last position is sampled; `.all` rows before it are for prompt logprobs.
            guard info.position == e.startPosition + e.count - 1 else { continue }
            let logits = out.logitRow(row)
            let token = Sampler.sample(logits, parameters: e.sampling, history: histories[e.sequence] ?? [], tokenIndex: e.tokenIndex)
            var s = Sample(sequence: e.sequence, token: token, logprob: nil, topLogprobs: [])
            if e.wantLogprob || e.topLogprobs > 0 {
                let (lp, top) = Sampler.logprobs(logits, token: token, top: e.topLogprobs)
                s.logprob = lp
                s.topLogprobs = top.map { TokenLogprob(token: $0.0, logprob: $0.1) }
            }
            samples.append(s)
        }
        return .samples(samples)
    }

    /// Keeps the blocks the entries completed. A block that cannot be kept (a sliding-window layer
    /// already dropped a position of it: a block larger than the window) is logged and skipped;
    /// a later restore of it fails with `blockMissing`, which the coordinator turns into a
    /// recompute and forgets the block.
    private func storeBlocks(of entries: [Entry]) {
        for e in entries {
            for b in e.storeBlocks {
                do { try model.store(e.sequence, block: b) } catch {
                    model.logger.warning("prefix-cache block not stored", metadata: ["error": "\(error)"])
                }
            }
        }
    }

    /// Drops prefix-cache blocks (names not held are ignored).
    public func dropBlocks(_ names: [UInt64]) { model.dropBlocks(names) }

    /// Frees sequences' KV caches and histories. When the last sequence goes, the freed heap
    /// is handed back to the system (glibc keeps freed KV buffers otherwise, and an idle stage
    /// would stay at its peak).
    public func free(_ ids: [SequenceID]) {
        for id in ids { model.free(id); histories[id] = nil }
        if model.sequenceCount == 0 && model.blockCount == 0 { returnFreedMemory() }
    }

    /// Frees everything.
    public func reset() {
        model.reset()
        histories.removeAll()
        returnFreedMemory()
    }

    private func returnFreedMemory() {
        _ = ps_sys_trim_heap()
    }
}
