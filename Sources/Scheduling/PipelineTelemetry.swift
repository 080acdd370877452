/// How busy each stage is, from the timings the stages report with every batch (how long a
/// stage waited for the batch's input, how long it computed). Pure: timestamps come from the
/// caller, typically the coordinator's monotonic clock when the batch came back.
///
/// Over a sliding window (the last N nanoseconds of finish timestamps, or the last N batches
/// per stage):
/// - busy ratio of stage s = Σ compute / Σ (compute + wait);
/// - pipeline bubble ratio = 1 − mean over stages of the busy ratio. When every stage's
///   compute + wait spans the same wall time this equals 1 − Σ busy / (P · wall time), the
///   definition used by ``PipelineSimulator``.
/// Lifetime counters (never windowed) feed Prometheus counters.
public struct PipelineTelemetry: Sendable {
    /// What the sliding window keeps.
    public enum Window: Sendable, Equatable {
        /// Samples whose finish timestamp is within this many nanoseconds of the newest one.
        case nanoseconds(UInt64)
        /// The last N samples of each stage.
        case batches(Int)
    }

    /// One stage's report for one batch.
    public struct StageTiming: Sendable, Equatable {
        public var stage: Int
        public var waitNanoseconds: UInt64
        public var computeNanoseconds: UInt64
        public init(stage: Int, waitNanoseconds: UInt64, computeNanoseconds: UInt64) {
            self.stage = stage
            self.waitNanoseconds = waitNanoseconds
            self.computeNanoseconds = computeNanoseconds
        }
    }

    /// Lifetime totals of one stage.
    public struct StageCounters: Sendable, Equatable {
        public var batches: UInt64 = 0
        public var waitNanoseconds: UInt64 = 0
        public var computeNanoseconds: UInt64 = 0
    }

    private struct Sample: Sendable {
        var wait: UInt64
        var compute: UInt64
        var finish: UInt64
    }

    public let stageCount: Int
    public let window: Window
    /// Lifetime totals per stage.
    public private(set) var stageCounters: [StageCounters]
    /// Batches recorded with ``recordBatch(_:finishedAtNanoseconds:)``.
    public private(set) var batchesRecorded: UInt64 = 0
    /// Timings ignored because their stage index was out of range.
    public private(set) var ignoredTimings: UInt64 = 0

    private var samples: [[Sample]]
    private var newestFinish: UInt64 = 0

    public init(stageCount: Int, window: Window) {
        self.stageCount = max(0, stageCount)
        self.window = window
        stageCounters = Array(repeating: StageCounters(), count: max(0, stageCount))
        samples = Array(repeating: [], count: max(0, stageCount))
    }

    /// Records one stage's timing of one batch that finished at `finishedAtNanoseconds`.
    public mutating func record(_ t: StageTiming, finishedAtNanoseconds finish: UInt64) {
        guard t.stage >= 0, t.stage < stageCount else { ignoredTimings += 1; return }
        stageCounters[t.stage].batches += 1
        stageCounters[t.stage].waitNanoseconds &+= t.waitNanoseconds
        stageCounters[t.stage].computeNanoseconds &+= t.computeNanoseconds
        samples[t.stage].append(Sample(wait: t.waitNanoseconds, compute: t.computeNanoseconds, finish: finish))
        newestFinish = max(newestFinish, finish)
        trim()
    }

    /// Records every stage's timing of one batch (what a returning batch carries).
    public mutating func recordBatch(_ timings: [StageTiming], finishedAtNanoseconds finish: UInt64) {
        batchesRecorded += 1
        for t in timings { record(t, finishedAtNanoseconds: finish) }
    }

    private mutating func trim() {
        switch window {
        case let .batches(n):
            for s in samples.indices where samples[s].count > max(0, n) {
                samples[s].removeFirst(samples[s].count - max(0, n))
            }
        case let .nanoseconds(span):
            let cutoff = newestFinish >= span ? newestFinish - span : 0
            for s in samples.indices {
                if let keep = samples[s].firstIndex(where: { $0.finish >= cutoff }) {
                    if keep > 0 { samples[s].removeFirst(keep) }
                } else {
                    samples[s].removeAll()
                }
            }
        }
    }

    /// Σ compute / Σ (compute + wait) of a stage over the window; nil without data.
    public func busyRatio(stage: Int) -> Double? {
        guard stage >= 0, stage < stageCount else { return nil }
        var compute: UInt64 = 0, total: UInt64 = 0
        for x in samples[stage] {
            compute &+= x.compute
            total &+= x.compute &+ x.wait
        }
        return total == 0 ? nil : Double(compute) / Double(total)
    }

    /// Busy ratio of every stage (nil where the window has no data).
    public var busyRatios: [Double?] { (0 ..< stageCount).map { busyRatio(stage: $0) } }

    /// 1 − mean busy ratio over the stages that have data in the window; nil if none has.
    public var bubbleRatio: Double? {
        let r = busyRatios.compactMap { $0 }
        return r.isEmpty ? nil : 1 - r.reduce(0, +) / Double(r.count)
    }

    /// Samples currently in the window for a stage.
    public func windowCount(stage: Int) -> Int { stage >= 0 && stage < stageCount ? samples[stage].count : 0 }
}
