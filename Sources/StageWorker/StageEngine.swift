import Constraints
import ServingTypes
import CPlatform
import ModelRuntime

/// What a stage does with one forward batch, apart from any I/O: run its layer range, and on the
/// last stage sample each sequence's next token. Keeps each sequence's token history (for
/// penalties and output constraints) and constraint state on the last stage. Driven by
/// `StageRunner`'s loop, tested directly.
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
        /// The sequence's output constraint, on its first entry of an admission (the last stage
        /// keeps it until the sequence is freed).
        public var constraint: StageConstraint?

        public init(sequence: SequenceID, startPosition: Int, count: Int, logits: LogitsRequest, tokens: [Int32],
                    sampling: SamplingParameters, tokenIndex: Int, topLogprobs: Int = 0, wantLogprob: Bool = false,
                    restoreBlocks: [KVBlockRef] = [], storeBlocks: [KVBlockRef] = [], constraint: StageConstraint? = nil) {
            self.sequence = sequence; self.startPosition = startPosition; self.count = count; self.logits = logits
            self.tokens = tokens; self.sampling = sampling; self.tokenIndex = tokenIndex
            self.topLogprobs = topLogprobs; self.wantLogprob = wantLogprob
            self.restoreBlocks = restoreBlocks; self.storeBlocks = storeBlocks; self.constraint = constraint
        }
    }

    /// A sampled token of one sequence.
    public struct Sample: Sendable, Equatable {
        public var sequence: SequenceID
        public var token: Int32
        public var logprob: Float?
        public var topLogprobs: [TokenLogprob]
        /// The constraint allowed no token: `token` is an end-of-generation id standing in, and
        /// the sequence must end (its output is incomplete).
        public var constraintDead = false
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
    /// Last stage: the token ids of each prefix-cache block it holds, so that a sequence
    /// restored from blocks has its whole history (penalties and constraints need it).
    private var blockTokens: [UInt64: [Int32]] = [:]
    private let constraints: SequenceConstraints

    /// - Parameter vocabulary: the model's tokens as output bytes with its end-of-generation ids,
    ///   built on the first constrained sequence (last stage only; nil: constraints fail).
    public init(model: LayerRangeModel, vocabulary: (() throws -> TokenVocabulary)? = nil) {
        self.model = model
        constraints = SequenceConstraints(source: {
            guard let vocabulary else { throw StageConstraintError.compile(SequenceID(0), "no vocabulary on this stage") }
            return try vocabulary()
        }, logger: model.logger)
    }

    /// Runs a batch: restores the prefix-cache blocks entries start from, computes, stores the
    /// blocks entries complete, and on the last stage samples (under each sequence's output
    /// constraint, if any). On a forward error nothing has changed (restored sequences are freed
    /// again; see `LayerRangeModel.forward`); a missing block throws
    /// `ModelRuntimeError.blockMissing` and a constraint that cannot be compiled
    /// `StageConstraintError.compile` before anything runs. A constraint that cannot be replayed
    /// (`StageConstraintError.replay`, a coordinator bug) fails after the forward: the
    /// coordinator fails and frees the batch's sequences either way.
    public func run(_ entries: [Entry], hidden: [Float]?) throws -> Output {
        let chunks = entries.map { e in
            e.tokens.isEmpty
                ? SequenceChunk(sequence: e.sequence, startPosition: e.startPosition, count: e.count, logits: e.logits)
                : SequenceChunk(sequence: e.sequence, startPosition: e.startPosition, tokens: e.tokens, logits: e.logits)
        }
        let restoring = entries.filter { !$0.restoreBlocks.isEmpty }
        for e in restoring {
            if let name = model.missingBlocks(e.restoreBlocks).first { throw ModelRuntimeError.blockMissing(name: name) }
            if model.isLast, let b = e.restoreBlocks.first(where: { blockTokens[$0.name] == nil }) {
                throw ModelRuntimeError.blockMissing(name: b.name)
            }
        }
        // Constraints compile before anything changes, so a failure leaves the stage as it was.
        let starting = model.isLast ? try compileConstraints(of: entries) : []
        let out: ForwardOutput
        do {
            for e in restoring { try model.restore(e.sequence, from: e.restoreBlocks) }
            out = try model.forward(chunks, hidden: model.isFirst ? nil : hidden)
        } catch {
            for e in restoring { model.free(e.sequence) }
            throw error
        }
        guard model.isLast else {
            storeBlocks(of: entries)
            return .hidden(out.hidden)
        }
        // History: the tokens at positions before each chunk's end (a restored prefix's, prompt
        // chunks and fed-back samples).
        for e in entries {
            var h = histories[e.sequence] ?? []
            if !e.restoreBlocks.isEmpty { h = e.restoreBlocks.flatMap { blockTokens[$0.name] ?? [] } }
            if h.count > e.startPosition { h.removeLast(h.count - e.startPosition) }
            h += e.tokens
            histories[e.sequence] = h
        }
        storeBlocks(of: entries)
        for (sequence, c, masker) in starting { constraints.begin(sequence, c, masker: masker) }
        var samples: [Sample] = []
        for (row, info) in out.logitRows.enumerated() {
            let e = entries[info.chunk]
            // Only the chunk's last position is sampled; `.all` rows before it are for prompt logprobs.
            guard info.position == e.startPosition + e.count - 1 else { continue }
            samples.append(try sample(e, out.logitRow(row)))
        }
        return .samples(samples)
    }

    /// One entry's next token, under its sequence's constraint when it has one.
    private func sample(_ e: Entry, _ logits: ArraySlice<Float>) throws -> Sample {
        let history = histories[e.sequence] ?? []
        var dead = false
        let token: Int32
        if let filter = try constraints.filter(for: e.sequence, history: history, tokenIndex: e.tokenIndex) {
            if let t = Sampler.sample(logits, parameters: e.sampling, history: history, tokenIndex: e.tokenIndex, filter: filter) {
                token = t
            } else {
                dead = true
                token = constraints.standInEndToken
                model.logger.warning("output constraint allows no token; the sequence ends",
                                     metadata: ["sequence.id": "\(e.sequence.rawValue)", "token.index": "\(e.tokenIndex)"])
            }
        } else {
            token = Sampler.sample(logits, parameters: e.sampling, history: history, tokenIndex: e.tokenIndex)
        }
        var s = Sample(sequence: e.sequence, token: token, logprob: nil, topLogprobs: [], constraintDead: dead)
        if e.wantLogprob || e.topLogprobs > 0 {
            let (lp, top) = Sampler.logprobs(logits, token: token, top: e.topLogprobs)
            s.logprob = lp
            s.topLogprobs = top.map { TokenLogprob(token: $0.0, logprob: $0.1) }
        }
        return s
    }

    /// The compiled constraints of the entries that bring one (their sequences' first entries
    /// of an admission). Throws `StageConstraintError` naming the sequence whose constraint
    /// cannot be used.
    private func compileConstraints(of entries: [Entry]) throws -> [(SequenceID, StageConstraint, TokenMasker)] {
        var out: [(SequenceID, StageConstraint, TokenMasker)] = []
        for e in entries {
            guard let c = e.constraint else { continue }
            guard c.promptLength >= 1 else { throw StageConstraintError.replay(e.sequence, "prompt length \(c.promptLength)") }
            out.append((e.sequence, c, try constraints.masker(for: c.constraint, sequence: e.sequence)))
        }
        return out
    }

    /// Keeps the blocks the entries completed (on the last stage with their token ids). A block
    /// that cannot be kept (a sliding-window layer already dropped a position of it: a block
    /// larger than the window) is logged and skipped; a later restore of it fails with
    /// `blockMissing`, which the coordinator turns into a recompute and forgets the block.
    private func storeBlocks(of entries: [Entry]) {
        for e in entries {
            for b in e.storeBlocks {
                do {
                    try model.store(e.sequence, block: b)
                    if model.isLast, let h = histories[e.sequence], b.startPosition >= 0, b.startPosition + b.count <= h.count {
                        blockTokens[b.name] = Array(h[b.startPosition ..< b.startPosition + b.count])
                    }
                } catch {
                    model.logger.warning("prefix-cache block not stored", metadata: ["error": "\(error)"])
                }
            }
        }
    }

    /// Drops prefix-cache blocks (names not held are ignored).
    public func dropBlocks(_ names: [UInt64]) {
        model.dropBlocks(names)
        for n in names { blockTokens[n] = nil }
    }

    /// Frees sequences' KV caches, histories and constraint states. When the last sequence goes,
    /// the freed heap is handed back to the system (glibc keeps freed KV buffers otherwise, and an
    /// idle stage would stay at its peak).
    public func free(_ ids: [SequenceID]) {
        for id in ids { model.free(id); histories[id] = nil; constraints.free(id) }
        if model.sequenceCount == 0 && model.blockCount == 0 { returnFreedMemory() }
    }

    /// Frees everything.
    public func reset() {
        model.reset()
        histories.removeAll()
        blockTokens.removeAll()
        constraints.reset()
        returnFreedMemory()
    }

    private func returnFreedMemory() {
        _ = ps_sys_trim_heap()
    }
}
