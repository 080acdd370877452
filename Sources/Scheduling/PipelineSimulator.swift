import ServingTypes

/// A pipeline of P stages on a virtual clock, driving a ``Scheduler`` the way the coordinator
/// does. For tests and for estimating bubbles of a configuration; it never reads a real clock.
///
/// Model: every stage runs batches one at a time, first come first served, each costing
/// `fixed + perToken · tokens` time units (times a per-stage factor); a batch leaves stage s and
/// enters stage s+1 at once; after the last stage the coordinator gets its sampled tokens,
/// calls ``Scheduler/complete(batch:samples:)`` and immediately sends ``Scheduler/nextBatches()``.
/// Because every stage is FIFO and batches enter stage 0 in send order, the ring as a whole is
/// FIFO, so a batch's whole timeline is fixed the moment it is sent.
///
/// Sampled tokens are a pure function of (request, token index), so a preempted and recomputed
/// sequence regenerates exactly what it would have.
public struct PipelineSimulator: Sendable {
    /// Per-stage cost of a batch: `fixed + perToken · tokens`, scaled by `stageFactors[s]`.
    public struct CostModel: Sendable {
        public var fixed: Double
        public var perToken: Double
        public var stageFactors: [Double]?
        public init(fixed: Double, perToken: Double, stageFactors: [Double]? = nil) {
            self.fixed = fixed
            self.perToken = perToken
            self.stageFactors = stageFactors
        }
        public func cost(tokens: Int, stage: Int) -> Double {
            let f = stageFactors.flatMap { stage < $0.count ? $0[stage] : nil } ?? 1
            return (fixed + perToken * Double(tokens)) * f
        }
    }

    /// One stage's work on one batch.
    public struct Span: Sendable, Equatable {
        public var batch: BatchID
        public var slot: SlotIndex
        public var tokens: Int
        public var start: Double
        public var end: Double
        /// Idle time of the stage just before this batch (since its previous batch, or time 0).
        public var wait: Double
    }

    /// Number of stages.
    public let stageCount: Int
    public let cost: CostModel
    /// The scheduler being driven (inspect it between runs).
    public private(set) var scheduler: Scheduler
    /// Current virtual time.
    public private(set) var now: Double = 0
    /// Each stage's spans, in order.
    public private(set) var spans: [[Span]]
    /// Every event the scheduler returned, in order, with its time.
    public private(set) var events: [(time: Double, event: SchedulerEvent)] = []
    /// Every batch sent, in order.
    public private(set) var sentBatches: [PlannedBatch] = []
    /// Submissions the scheduler refused.
    public private(set) var rejections: [(SequenceID, SubmitRejection)] = []

    private var stageFree: [Double]
    private var returns: [(time: Double, batch: PlannedBatch)] = []
    private var arrivals: [(time: Double, order: Int, request: SequenceRequest)] = []
    private var arrivalCounter = 0
    private let tokenSeed: UInt64
    private let vocabulary: UInt64

    /// - Parameters:
    ///   - stages: P >= 1.
    ///   - tokenSeed/vocabulary: the fake model samples token 100 + hash(seed, request, index) % vocabulary,
    ///     (so stop tokens can be aimed at).
    public init(stages: Int, cost: CostModel, scheduler: Scheduler, tokenSeed: UInt64 = 1, vocabulary: UInt64 = 1000) {
        stageCount = max(1, stages)
        self.cost = cost
        self.scheduler = scheduler
        spans = Array(repeating: [], count: max(1, stages))
        stageFree = Array(repeating: 0, count: max(1, stages))
        self.tokenSeed = tokenSeed
        self.vocabulary = max(1, vocabulary)
    }

    /// The token the fake model samples for a request's token `index`.
    public func sampledToken(request: SequenceID, index: Int) -> Int32 {
        let h = SplitMix64.hash(seed: tokenSeed ^ request.rawValue &* 0x9E37_79B9, key: UInt64(index))
        return Int32(100 + h % vocabulary)
    }

    /// Schedules a request to arrive at `time` (>= now).
    public mutating func submit(_ request: SequenceRequest, at time: Double = 0) {
        arrivals.append((max(time, now), arrivalCounter, request))
        arrivalCounter += 1
    }

    /// Runs events until none is left or the next one is later than `limit`.
    public mutating func run(until limit: Double = .infinity) {
        while true {
            let nextReturn = returns.indices.min { returns[$0].time < returns[$1].time
                || (returns[$0].time == returns[$1].time && returns[$0].batch.id < returns[$1].batch.id) }
            let nextArrival = arrivals.indices.min { arrivals[$0].time < arrivals[$1].time
                || (arrivals[$0].time == arrivals[$1].time && arrivals[$0].order < arrivals[$1].order) }
            let tReturn = nextReturn.map { returns[$0].time } ?? .infinity
            let tArrival = nextArrival.map { arrivals[$0].time } ?? .infinity
            let t = min(tReturn, tArrival)
            guard t.isFinite, t <= limit else { return }
            now = t
            if let i = nextReturn, tReturn <= tArrival {
                let b = returns.remove(at: i).batch
                let samples = b.entries.filter(\.wantsSample).map { e -> SampledToken in
                    let tok = sampledToken(request: e.sequence, index: e.tokenIndex)
                    return SampledToken(sequence: e.sequence, token: tok)
                }
                for e in scheduler.complete(batch: b.id, samples: samples) { events.append((now, e)) }
            } else if let i = nextArrival {
                let a = arrivals.remove(at: i)
                if case let .rejected(r) = scheduler.submit(a.request) { rejections.append((a.request.id, r)) }
            }
            for b in scheduler.nextBatches() { send(b) }
        }
    }

    private mutating func send(_ b: PlannedBatch) {
        sentBatches.append(b)
        var t = now
        let tokens = b.tokenCount
        for s in 0 ..< stageCount {
            let start = max(t, stageFree[s])
            let end = start + cost.cost(tokens: tokens, stage: s)
            spans[s].append(Span(batch: b.id, slot: b.slot, tokens: tokens, start: start, end: end,
                                 wait: start - stageFree[s]))
            stageFree[s] = end
            t = end
        }
        returns.append((t, b))
    }

    /// Time from the first batch's start on stage 0 to the last batch's end on the last stage.
    public var makespan: Double {
        guard let first = spans[0].first?.start, let last = spans[stageCount - 1].last?.end else { return 0 }
        return last - first
    }

    /// Time stage `s` computed within [from, to].
    public func busyTime(stage s: Int, from: Double, to: Double) -> Double {
        spans[s].reduce(0) { $0 + max(0, min($1.end, to) - max($1.start, from)) }
    }

    /// 1 − Σ busy / (P · window) over [from, to].
    public func bubbleRatio(from: Double, to: Double) -> Double {
        guard to > from else { return 0 }
        let busy = (0 ..< stageCount).reduce(0) { $0 + busyTime(stage: $1, from: from, to: to) }
        return 1 - busy / (Double(stageCount) * (to - from))
    }

    /// Bubble ratio over the whole run (first start to last end).
    public var bubbleRatio: Double {
        guard let first = spans[0].first?.start else { return 0 }
        return bubbleRatio(from: first, to: first + makespan)
    }

    /// Finish events seen so far, by request.
    public var finished: [SequenceID: (reason: FinishReason, usage: Usage)] {
        var out: [SequenceID: (FinishReason, Usage)] = [:]
        for (_, e) in events { if case let .finished(r, reason, usage) = e { out[r] = (reason, usage) } }
        return out
    }
}
