import Coordinator
import Foundation
import SyntheticModels
import ServingTypes
import WireProtocol

/// The offline workload of `pipeserve bench`: `requests` random prompts of `promptTokens` tokens,
/// `outputTokens` generated each (end-of-generation ignored, greedy), submitted at once (a closed
/// burst) or as Poisson arrivals at `rate` per second, straight into an engine (no HTTP).
public struct BenchWorkload: Sendable {
    public var requests: Int
    public var promptTokens: Int
    public var outputTokens: Int
    /// Poisson arrival rate (requests/s); nil = all at once.
    public var rate: Double?
    public var seed: UInt64

    public init(requests: Int, promptTokens: Int, outputTokens: Int, rate: Double?, seed: UInt64) {
        self.requests = requests
        self.promptTokens = promptTokens
        self.outputTokens = outputTokens
        self.rate = rate
        self.seed = seed
    }

    /// What one run measured.
    public struct Result: Sendable {
        public var completed = 0
        public var failed = 0
        public var firstError: String?
        public var ttft: [Double] = []
        public var tpot: [Double] = []
        public var outputTokensPerSecond = 0.0
        public var wallNanoseconds = 0.0
    }

    /// Submits the requests (at once or Poisson) and waits for all to end; `label` draws a
    /// progress bar on stderr.
    public func run(engine: PipelineEngine, vocabulary: Int, label: String?) -> Result {
        let collector = Collector(count: requests)
        var rng = SyntheticModels.SplitMix64(seed: seed)
        func request(_ i: Int) -> (PipelineEngine.Request, PipelineEngine.Handler) {
            let prompt = (0..<promptTokens).map { _ in Int32(truncatingIfNeeded: 3 + rng.next() % UInt64(max(1, vocabulary - 3))) }
            var sampling = SamplingParameters.greedy
            sampling.seed = UInt64(i)
            return (PipelineEngine.Request(id: SequenceID(UInt64(i + 1)), requestID: RequestID("bench-\(i)"), prompt: prompt,
                                           stop: StopConditions(maxTokens: outputTokens, ignoreEOS: true), sampling: sampling),
                    { event in collector.handle(i, event) })
        }
        let start: UInt64
        if let rate {
            start = WireClock.monotonicNanoseconds()
            for i in 0..<requests {
                if i > 0 {
                    let u = max(1e-12, Double(rng.next() >> 11) * 0x1.0p-53)
                    usleep(UInt32(min(10.0, -log(u) / rate) * 1e6))
                }
                let (r, handler) = request(i)
                collector.submitted(i, at: WireClock.monotonicNanoseconds())
                engine.submit(r, handler: handler)
            }
        } else {
            // A closed burst: all requests reach the engine together, so its first iteration sees
            // every one (not a race between this loop and the engine thread).
            let burst = (0..<requests).map(request)
            start = WireClock.monotonicNanoseconds()
            for i in 0..<requests { collector.submitted(i, at: start) }
            engine.submitAll(burst)
        }
        collector.waitAll(progress: label)
        let end = collector.lastFinish
        var r = Result()
        r.completed = collector.completed
        r.failed = collector.failed
        r.firstError = collector.firstError
        r.ttft = collector.ttftMilliseconds
        r.tpot = collector.tpotMilliseconds
        r.wallNanoseconds = Double(end - start)
        r.outputTokensPerSecond = Double(collector.outputTokens) / max(1e-9, Double(end - start) / 1e9)
        return r
    }

    /// p50, p90 and p99 (nearest rank; zeros for no values).
    public static func percentiles(_ v: [Double]) -> [String: Double] {
        guard !v.isEmpty else { return ["p50": 0, "p90": 0, "p99": 0] }
        let s = v.sorted()
        func q(_ p: Double) -> Double { s[min(s.count - 1, Int((p * Double(s.count - 1)).rounded()))] }
        return ["p50": q(0.5), "p90": q(0.9), "p99": q(0.99)]
    }
}

/// Per-request timing, filled from handler callbacks on the engine thread.
private final class Collector: @unchecked Sendable {
    // Sendable: every field is guarded by `cond`.
    private let cond = NSCondition()
    private var submittedAt: [UInt64]
    private var firstTokenAt: [UInt64]
    private var finishedAt: [UInt64]
    private var tokens: [Int]
    private(set) var completed = 0
    private(set) var failed = 0
    private(set) var firstError: String?

    init(count: Int) {
        submittedAt = Array(repeating: 0, count: count)
        firstTokenAt = submittedAt
        finishedAt = submittedAt
        tokens = Array(repeating: 0, count: count)
    }

    func submitted(_ i: Int, at t: UInt64) { cond.lock(); submittedAt[i] = t; cond.unlock() }

    func handle(_ i: Int, _ e: PipelineEngine.Event) {
        let now = WireClock.monotonicNanoseconds()
        cond.lock(); defer { cond.unlock() }
        switch e {
        case .token:
            if tokens[i] == 0 { firstTokenAt[i] = now }
            tokens[i] += 1
        case .text: break
        case .finished:
            finishedAt[i] = now; completed += 1; cond.broadcast()
        case let .failed(why), let .refused(why, _):
            finishedAt[i] = now; failed += 1; if firstError == nil { firstError = why }; cond.broadcast()
        }
    }

    func waitAll(progress label: String?) {
        cond.lock(); defer { cond.unlock() }
        let total = submittedAt.count
        while completed + failed < total {
            _ = cond.wait(until: Date().addingTimeInterval(0.2))
            if let label {
                let done = completed + failed
                let width = 30, filled = width * done / max(1, total)
                FileHandle.standardError.write(Data("\r\(label) [\(String(repeating: "#", count: filled))\(String(repeating: " ", count: width - filled))] \(done)/\(total)".utf8))
            }
        }
        if label != nil { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
    }

    var lastFinish: UInt64 { cond.lock(); defer { cond.unlock() }; return finishedAt.max() ?? 0 }
    var outputTokens: Int { cond.lock(); defer { cond.unlock() }; return tokens.reduce(0, +) }
    var ttftMilliseconds: [Double] {
        cond.lock(); defer { cond.unlock() }
        return zip(firstTokenAt, submittedAt).filter { $0.0 > 0 }.map { Double($0.0 - $0.1) / 1e6 }
    }
    var tpotMilliseconds: [Double] {
        cond.lock(); defer { cond.unlock() }
        var out: [Double] = []
        for i in 0..<tokens.count where tokens[i] > 1 && finishedAt[i] > firstTokenAt[i] {
            let span = Double(finishedAt[i] - firstTokenAt[i]) / 1e6
            out.append(span / Double(tokens[i] - 1))
        }
        return out
    }
}

