import Foundation
import ServingTypes
import WireProtocol

/// One sequence generated through a ring of stages (what `pipeserve generate --stages N` runs;
/// the scheduler issue replaces this with micro-batches of many sequences). Prefill chunks are
/// sent back to back, so the stages work on successive chunks at the same time.
public struct PipelineGenerator {
    public let ring: StageRing
    public var prefillChunk = 512

    public init(ring: StageRing) { self.ring = ring }

    public struct Result: Sendable {
        public var tokens: [Int32] = []
        /// Logprob of each generated token and its top alternatives (when asked for).
        public var logprobs: [Float] = []
        public var topLogprobs: [[WireTopLogprob]] = []
        public var prefillSeconds = 0.0
        public var decodeSeconds = 0.0
        public var decodeSteps = 0
        /// Per-stage compute and wait time summed over all batches (ns).
        public var stageCompute: [UInt64] = []
        public var stageWait: [UInt64] = []
        public var finishedByStopToken = false
    }

    public func generate(prompt: [Int32], maxTokens: Int, sampling: SamplingParameters, topLogprobs: Int = 0, stopTokens: Set<Int32>,
                         sequence: SequenceID = SequenceID(1), onToken: (Int32) -> Bool = { _ in true }) throws -> Result {
        var r = Result()
        r.stageCompute = Array(repeating: 0, count: ring.processes.count)
        r.stageWait = r.stageCompute
        var batchID: UInt64 = 0
        func entry(_ start: Int, _ tokens: [Int32], logits: WireLogitsMode, tokenIndex: Int) -> WireBatchEntry {
            WireBatchEntry(sequence: sequence, startPosition: UInt32(start), count: UInt32(tokens.count), logits: logits,
                           tokens: tokens, sampling: sampling, tokenIndex: UInt32(tokenIndex), topLogprobs: UInt8(clamping: topLogprobs))
        }
        func send(_ e: WireBatchEntry) throws {
            batchID += 1
            try ring.send(.forwardBatch(WireForwardBatch(batch: BatchID(batchID), slot: MicroBatchSlot(0), entries: [e])))
        }
        func receiveSamples() throws -> WireSampledTokens {
            while true {
                let m: WireMessage
                do { m = try ring.receive() } catch {
                    if let (i, s) = waitForExit() { throw RingError.stageExited(stage: i, status: s, detail: ring.processes[i].recentErrors) }
                    throw error
                }
                switch m {
                case let .sampledTokens(t):
                    for timing in t.timings where Int(timing.stage.rawValue) < r.stageCompute.count {
                        r.stageCompute[Int(timing.stage.rawValue)] += timing.computeNanoseconds
                        r.stageWait[Int(timing.stage.rawValue)] += timing.waitNanoseconds
                    }
                    return t
                case let .error(report): throw RingError.stageReported("\(report.origin): \(report.message)")
                default: continue  // echoes of control messages
                }
            }
        }
        func waitForExit() -> (Int, Int32)? {
            ring.waitForExitCause(seconds: 1).map { ($0.index, $0.status) }
        }
        defer {
            try? ring.send(.freeSequences([sequence]))
        }
        let t0 = DispatchTime.now().uptimeNanoseconds
        var chunks = 0
        var pos = 0
        while pos < prompt.count {
            let n = min(prefillChunk, prompt.count - pos)
            try send(entry(pos, Array(prompt[pos..<(pos + n)]), logits: pos + n == prompt.count ? .last : .none, tokenIndex: 0))
            pos += n
            chunks += 1
        }
        var last = WireSampledTokens(batch: BatchID(0), slot: MicroBatchSlot(0), tokens: [])
        for _ in 0..<chunks { last = try receiveSamples() }
        let t1 = DispatchTime.now().uptimeNanoseconds
        r.prefillSeconds = Double(t1 - t0) / 1e9
        var sample = last.tokens.first
        while let s = sample {
            r.tokens.append(s.token)
            r.logprobs.append(s.logprob)
            r.topLogprobs.append(s.topLogprobs)
            if !onToken(s.token) { break }
            if stopTokens.contains(s.token) { r.finishedByStopToken = true; break }
            if r.tokens.count >= maxTokens { break }
            try send(entry(pos, [s.token], logits: .last, tokenIndex: r.tokens.count))
            pos += 1
            r.decodeSteps += 1
            sample = try receiveSamples().tokens.first
        }
        r.decodeSeconds = Double(DispatchTime.now().uptimeNanoseconds - t1) / 1e9
        return r
    }
}
