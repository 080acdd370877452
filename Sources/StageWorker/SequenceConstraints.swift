import Constraints
import Foundation
import Logging
import ModelRuntime
import ServingTypes

/// A sequence's output constraint as the last stage receives it with the sequence's first entry
/// of an admission.
public struct StageConstraint: Sendable, Equatable {
    public var constraint: OutputConstraint
    /// Positions before it are prompt; the generated tokens, from it on, drive the constraint.
    public var promptLength: Int
    /// The request's `ignore_eos`: end-of-generation only where nothing else is allowed.
    public var ignoresEOS: Bool

    public init(constraint: OutputConstraint, promptLength: Int, ignoresEOS: Bool = false) {
        self.constraint = constraint
        self.promptLength = promptLength
        self.ignoresEOS = ignoresEOS
    }
}

/// Why a constraint could not be applied on the last stage. Neither happens for constraints the
/// HTTP layer validated; both fail the batch (the coordinator fails its sequences), never the stage.
public enum StageConstraintError: Error, CustomStringConvertible {
    /// The constraint did not compile (or the model's vocabulary could not be read).
    case compile(SequenceID, String)
    /// The generated tokens the stage replays do not fit the sequence's positions or constraint.
    case replay(SequenceID, String)

    public var sequence: SequenceID {
        switch self {
        case let .compile(id, _), let .replay(id, _): return id
        }
    }

    public var description: String {
        switch self {
        case let .compile(id, why): return "constraint of sequence \(id.rawValue) cannot be used: \(why)"
        case let .replay(id, why): return "constraint of sequence \(id.rawValue) cannot be replayed: \(why)"
        }
    }
}

/// The last stage's structured output: the model's vocabulary prepared for masking (built on
/// first use, once per process), compiled constraints with their token tables (a small LRU
/// cache, so a schema sent again costs nothing), and per sequence the constraint's state.
///
/// A sequence's state is a function of its generated tokens: before each sample it advances
/// over the tokens of the sequence's history from the prompt's end that it has not yet seen
/// (the token sampled last time, fed back as the next entry; or, after a recompute, every
/// generated token of the prefill). So a restart, a preemption or a prefix-cache hit rebuilds
/// exactly the state an uninterrupted run has.
final class SequenceConstraints {
    /// Builds the vocabulary (the stage's tokenizer bytes and end-of-generation ids).
    typealias VocabularySource = () throws -> TokenVocabulary

    struct Tracker {
        let masker: TokenMasker
        let start: ConstraintState
        var state: ConstraintState
        let promptLength: Int
        let ignoresEOS: Bool
        /// History positions the state has consumed (from `promptLength`).
        var replayed: Int
    }

    /// Compiled constraints kept for new sequences.
    let capacity: Int
    /// Token tables a compiled constraint may cache (each a 32 KiB bit set on Gemma).
    let tableBytesPerConstraint: Int
    private let source: VocabularySource
    private var vocabulary: TokenVocabulary?
    private var compiled: [OutputConstraint: (masker: TokenMasker, lastUse: UInt64)] = [:]
    private var uses: UInt64 = 0
    private var tracked: [SequenceID: Tracker] = [:]
    private let logger: Logger

    init(source: @escaping VocabularySource, logger: Logger, capacity: Int = 8, tableBytesPerConstraint: Int = 32 << 20) {
        self.source = source
        self.logger = logger
        self.capacity = max(1, capacity)
        self.tableBytesPerConstraint = tableBytesPerConstraint
    }

    var isEmpty: Bool { tracked.isEmpty }

    func isConstrained(_ sequence: SequenceID) -> Bool { tracked[sequence] != nil }

    /// The compiled form of `constraint` (cached), without touching any sequence.
    func masker(for constraint: OutputConstraint, sequence: SequenceID) throws(StageConstraintError) -> TokenMasker {
        uses += 1
        if let hit = compiled[constraint] {
            compiled[constraint]?.lastUse = uses
            return hit.masker
        }
        let vocabulary = try loadVocabulary(sequence)
        let started = ContinuousClock.now
        let grammar: CompiledGrammar
        do { grammar = try ConstraintCompiler.compile(constraint) } catch {
            throw .compile(sequence, "\(error)")
        }
        let masker = TokenMasker(grammar: grammar, vocabulary: vocabulary, maxCacheBytes: tableBytesPerConstraint)
        if compiled.count >= capacity, let oldest = compiled.min(by: { $0.value.lastUse < $1.value.lastUse })?.key {
            compiled[oldest] = nil
        }
        compiled[constraint] = (masker, uses)
        logger.debug("constraint compiled", metadata: ["constraint.states": "\(grammar.stateCount)",
                                                         "duration": "\(ContinuousClock.now - started)"])
        return masker
    }

    private func loadVocabulary(_ sequence: SequenceID) throws(StageConstraintError) -> TokenVocabulary {
        if let vocabulary { return vocabulary }
        do {
            let started = ContinuousClock.now
            let v = try source()
            vocabulary = v
            logger.info("constraint vocabulary ready", metadata: ["vocabulary.tokens": "\(v.count)",
                                                                 "duration": "\(ContinuousClock.now - started)"])
            return v
        } catch {
            throw .compile(sequence, "the model's vocabulary could not be read: \(error)")
        }
    }

    /// Starts (or restarts, on a new admission) `sequence` under `masker`.
    func begin(_ sequence: SequenceID, _ c: StageConstraint, masker: TokenMasker) {
        let start = masker.grammar.start()
        tracked[sequence] = Tracker(masker: masker, start: start, state: start, promptLength: c.promptLength,
                                    ignoresEOS: c.ignoresEOS, replayed: c.promptLength)
    }

    /// The filter for `sequence`'s next token (nil when it is not constrained), after its state
    /// has consumed the generated tokens in `history` (prompt + generated, up to the position
    /// being sampled). `tokenIndex` is the index of the token about to be sampled: it must be
    /// the number of generated tokens in `history`.
    func filter(for sequence: SequenceID, history: [Int32], tokenIndex: Int) throws(StageConstraintError) -> ConstraintFilter? {
        guard var t = tracked[sequence] else { return nil }
        guard history.count - t.promptLength == tokenIndex else {
            throw .replay(sequence, "history of \(history.count) positions with a prompt of \(t.promptLength) for token \(tokenIndex)")
        }
        if t.replayed > history.count {  // positions were taken back: start over
            t.state = t.start
            t.replayed = t.promptLength
        }
        while t.replayed < history.count {
            let token = history[t.replayed]
            guard t.masker.advance(&t.state, by: token), !t.masker.vocabulary.isEndOfGeneration(token) else {
                tracked[sequence] = nil
                throw .replay(sequence, "generated token \(token) at position \(t.replayed) is not allowed")
            }
            t.replayed += 1
        }
        tracked[sequence] = t
        return ConstraintFilter(masker: t.masker, state: t.state, ignoresEOS: t.ignoresEOS)
    }

    /// End-of-generation id the stage returns for a sequence whose constraint allows nothing.
    var standInEndToken: Int32 { vocabulary?.endOfGeneration.first ?? 0 }

    func free(_ sequence: SequenceID) { tracked[sequence] = nil }

    func reset() { tracked.removeAll() }
}

/// The tokens a constraint's state allows next, as the sampler asks for them. End-of-generation
/// comes only in an accepting state and, with `ignore_eos`, only once nothing else may follow.
struct ConstraintFilter: TokenFilter {
    let masker: TokenMasker
    let state: ConstraintState
    let ignoresEOS: Bool

    private var endAllowed: Bool { state.isAccepting && (!ignoresEOS || !state.canContinue) }

    func allows(_ token: Int32) -> Bool {
        if masker.vocabulary.isEndOfGeneration(token) { return endAllowed }
        return masker.allows(token, in: state)
    }

    func allowedWords() -> [UInt64] {
        var mask = masker.mask(for: state)
        if state.isAccepting && !endAllowed {
            for id in masker.vocabulary.endOfGeneration { mask.remove(id) }
        }
        return mask.words
    }
}
