/// Time one stage spent on a batch: waiting for its input and computing.
public struct WireStageTiming: Sendable, Equatable {
    public var stage: StageIndex
    public var waitNanoseconds: UInt64
    public var computeNanoseconds: UInt64

    public init(stage: StageIndex, waitNanoseconds: UInt64, computeNanoseconds: UInt64) {
        self.stage = stage
        self.waitNanoseconds = waitNanoseconds
        self.computeNanoseconds = computeNanoseconds
    }

    static let wireSize = 18
}
