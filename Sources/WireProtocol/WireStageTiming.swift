/// Time one stage spent on a batch: waiting for its input and computing, and when it finished
/// computing (CLOCK_MONOTONIC ns: one clock for every process on the machine, so the coordinator
/// can place stage spans on one timeline).
public struct WireStageTiming: Sendable, Equatable {
    public var stage: StageIndex
    public var waitNanoseconds: UInt64
    public var computeNanoseconds: UInt64
    /// Monotonic time at which the stage finished computing this batch (0 = unknown).
    public var finishedAtNanoseconds: UInt64

    public init(stage: StageIndex, waitNanoseconds: UInt64, computeNanoseconds: UInt64, finishedAtNanoseconds: UInt64 = 0) {
        self.stage = stage
        self.waitNanoseconds = waitNanoseconds
        self.computeNanoseconds = computeNanoseconds
        self.finishedAtNanoseconds = finishedAtNanoseconds
    }

    static let wireSize = 26
}
