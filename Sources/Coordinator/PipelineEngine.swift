import Foundation
import Logging
import Scheduling
import Tokenization
import WireProtocol

/// Drives a ring of stages with the micro-batch scheduler: up to M batches in flight; when a
/// slot's sampled tokens return it applies them, streams text to each request's handler, and sends
/// that slot's next batch at once (continuous batching). One engine thread owns the scheduler; a
/// receiver thread turns ring messages into inbox items. Handlers are called on the engine thread.
public final class PipelineEngine: @unchecked Sendable {
    // Sendable: `scheduler`, `requests`, `inFlight` and `telemetry` are touched only on the engine
    // thread; the inbox and the snapshot are guarded by `lock`.

    /// What a client asks for; one sequence (the API makes n of these for n choices).
    public struct Request: Sendable {
        public var id: RequestID
        public var prompt: [Int32]
        public var maxTokens: Int
        public var stopTokens: Set<Int32>
        public var stopStrings: [String]
        public var sampling: WireSamplingParameters
        public init(id: RequestID, prompt: [Int32], maxTokens: Int, stopTokens: Set<Int32> = [], stopStrings: [String] = [],
                    sampling: WireSamplingParameters = WireSamplingParameters()) {
            self.id = id; self.prompt = prompt; self.maxTokens = maxTokens; self.stopTokens = stopTokens
            self.stopStrings = stopStrings; self.sampling = sampling
        }
    }

    /// What a request's handler hears.
    public enum Event: Sendable {
        /// A generated token (index within the request) with its logprob when asked for.
        case token(Int32, index: Int, logprob: Float?, top: [WireTopLogprob])
        /// New text (held back around possible stop strings, never half a UTF-8 character).
        case text(String)
        case finished(FinishReason, Usage)
        /// The engine failed this request (ring broke, stage error).
        case failed(String)
    }

    public typealias Handler = @Sendable (Event) -> Void

    /// Counters and gauges for metrics and `bench`.
    public struct Snapshot: Sendable {
        public var waiting = 0
        public var running = 0
        public var tokensInFlight = 0
        public var kvTokensUsed = 0
        public var stageBusy: [Double?] = []
        public var bubbleRatio: Double?
        public var stageComputeNanoseconds: [UInt64] = []
        public var stageWaitNanoseconds: [UInt64] = []
        public var batches: UInt64 = 0
    }

    private enum InboxItem {
        case submit(Request, Handler)
        case cancel(RequestID)
        case ring(WireMessage)
        case ringFailed(String)
        case stop
    }

    public let ring: StageRing
    let tokenizer: Tokenizer
    let logger: Logger
    private var scheduler: Scheduler
    private var telemetry: PipelineTelemetry
    /// Chrome trace of stage and coordinator spans (nil = off).
    private var trace: TraceRecorder?
    private let lock = NSCondition()
    private var inbox: [InboxItem] = []
    private var snapshotValue = Snapshot()
    private var running = false
    private var threads: [Thread] = []
    private var stopped = false
    private var brokenReason: String?
    private let maxQueue: Int

    private struct Live {
        var request: Request
        var handler: Handler
        var detokenizer: StreamingDetokenizer
        var promptTokens: Int
    }
    private var requests: [RequestID: Live] = [:]
    private var inFlight: [UInt64: (batch: PlannedBatch, sentAt: UInt64)] = [:]
    private var batchCounter: UInt64 = 0

    public init(ring: StageRing, scheduler configuration: SchedulerConfiguration, tokenizer: Tokenizer, trace: Bool = false,
                logger: Logger) throws {
        self.ring = ring
        self.tokenizer = tokenizer
        self.logger = logger
        self.scheduler = try Scheduler(configuration: configuration)
        self.maxQueue = configuration.maxQueue
        let stages = ring.processes.count
        self.telemetry = PipelineTelemetry(stageCount: stages, window: .nanoseconds(10_000_000_000))
        self.trace = trace ? TraceRecorder(stageCount: stages) : nil
        snapshotValue.stageComputeNanoseconds = Array(repeating: 0, count: stages)
        snapshotValue.stageWaitNanoseconds = Array(repeating: 0, count: stages)
    }

    /// Starts the receiver and engine threads.
    public func start() {
        lock.lock(); defer { lock.unlock() }
        guard !running else { return }
        running = true
        let receiver = Thread { [weak self] in self?.receiveLoop() }
        receiver.name = "pipeserve-ring-rx"
        let engine = Thread { [weak self] in self?.engineLoop() }
        engine.name = "pipeserve-engine"
        threads = [receiver, engine]
        receiver.start()
        engine.start()
    }

    /// Stops the engine thread (in-flight requests are failed); the ring is left to its owner.
    public func stop() {
        post(.stop)
        lock.lock()
        while !stopped && running { _ = lock.wait(until: Date().addingTimeInterval(0.05)) }
        lock.unlock()
    }

    /// Queues a request; the handler hears its tokens, text and end. Returns false (and queues
    /// nothing) when the waiting queue is already full, so an API can answer 503 at once; the
    /// scheduler's own bound still applies to what races past this check.
    @discardableResult
    public func submit(_ request: Request, handler: @escaping Handler) -> Bool {
        lock.lock()
        let pending = inbox.reduce(0) { if case .submit = $1 { return $0 + 1 } else { return $0 } }
        if snapshotValue.waiting + pending >= maxQueue {
            lock.unlock()
            return false
        }
        inbox.append(.submit(request, handler))
        lock.signal()
        lock.unlock()
        return true
    }

    /// Whether the ring has broken (the engine then fails every request).
    public var isBroken: Bool {
        lock.lock(); defer { lock.unlock() }
        return brokenReason != nil
    }

    /// Why the ring broke, if it did.
    public var failure: String? {
        lock.lock(); defer { lock.unlock() }
        return brokenReason
    }

    /// Cancels a request (its KV cache is freed in every stage).
    public func cancel(_ id: RequestID) { post(.cancel(id)) }

    /// Current counters (thread-safe).
    public var snapshot: Snapshot {
        lock.lock(); defer { lock.unlock() }
        return snapshotValue
    }

    /// The trace so far as Chrome trace-event JSON (empty object when tracing is off).
    public func traceJSON() -> String {
        lock.lock(); defer { lock.unlock() }
        return trace?.json() ?? "{\"traceEvents\":[]}"
    }

    private func post(_ item: InboxItem) {
        lock.lock()
        inbox.append(item)
        lock.signal()
        lock.unlock()
    }

    private func receiveLoop() {
        while true {
            do {
                let m = try ring.receive()
                post(.ring(m))
            } catch {
                // The link usually breaks because a stage died: give its exit a moment to be seen
                // so the failure names the stage.
                var exited = ring.exitedStage
                for _ in 0..<100 where exited == nil {
                    usleep(10_000)
                    exited = ring.exitedStage
                }
                post(.ringFailed(exited.map { "stage \($0.index) exited with status \($0.status)" } ?? "pipeline link failed: \(error)"))
                return
            }
        }
    }

    private func now() -> UInt64 { WireClock.monotonicNanoseconds() }

    private func engineLoop() {
        var ringBroken: String?
        loop: while true {
            lock.lock()
            while inbox.isEmpty { lock.wait() }
            let items = inbox
            inbox.removeAll()
            lock.unlock()
            for item in items {
                switch item {
                case let .submit(r, h):
                    if let broken = ringBroken { h(.failed(broken)); continue }
                    admit(r, h)
                case let .cancel(id):
                    apply(scheduler.cancel(id))
                case let .ring(m):
                    handleRing(m)
                case let .ringFailed(reason):
                    ringBroken = reason
                    lock.lock(); brokenReason = reason; lock.unlock()
                    logger.error("pipeline ring broke", metadata: ["error": "\(reason)"])
                    for (_, live) in requests { live.handler(.failed(reason)) }
                    requests.removeAll()
                    inFlight.removeAll()
                case .stop:
                    for (_, live) in requests { live.handler(.failed("engine stopped")) }
                    requests.removeAll()
                    break loop
                }
            }
            if ringBroken == nil { sendReadyBatches() }
            publishSnapshot()
        }
        lock.lock()
        stopped = true
        running = false
        lock.broadcast()
        lock.unlock()
    }

    private func admit(_ r: Request, _ h: @escaping Handler) {
        let result = scheduler.submit(SequenceRequest(id: r.id, prompt: r.prompt, maxTokens: r.maxTokens, stopTokenIDs: r.stopTokens,
                                                      stopStrings: r.stopStrings))
        switch result {
        case .queued:
            requests[r.id] = Live(request: r, handler: h, detokenizer: StreamingDetokenizer(tokenizer: tokenizer), promptTokens: r.prompt.count)
        case let .rejected(why):
            h(.failed("\(why)"))
        }
    }

    private func sendReadyBatches() {
        for planned in scheduler.nextBatches() {
            do {
                if !planned.freeBefore.isEmpty {
                    try ring.send(.freeSequences(planned.freeBefore.map { WireSequenceID($0.rawValue) }))
                }
                let entries = planned.entries.map { e -> WireBatchEntry in
                    var s = requests[e.request]?.request.sampling ?? WireSamplingParameters()
                    s.tokenIndex = UInt32(e.tokenIndex)
                    return WireBatchEntry(sequence: WireSequenceID(e.sequence.rawValue), startPosition: UInt32(e.startPosition),
                                          count: UInt32(e.tokens.count), logits: e.wantsSample ? .last : .none, tokens: e.tokens, sampling: s)
                }
                inFlight[planned.id.rawValue] = (planned, now())
                try ring.send(.forwardBatch(WireForwardBatch(batch: WireProtocol.BatchID(planned.id.rawValue),
                                                             slot: MicroBatchSlot(UInt32(planned.slot.rawValue)), entries: entries)))
            } catch {
                post(.ringFailed("cannot send to stage 0: \(error)"))
                return
            }
        }
    }

    private func handleRing(_ m: WireMessage) {
        switch m {
        case let .sampledTokens(t):
            guard let (planned, sentAt) = inFlight.removeValue(forKey: t.batch.rawValue) else { return }
            let received = now()
            record(timings: t.timings, planned: planned, sentAt: sentAt, receivedAt: received)
            let bySequence = Dictionary(uniqueKeysWithValues: planned.entries.map { ($0.sequence.rawValue, $0) })
            var samples: [SampledToken] = []
            for s in t.tokens {
                guard let entry = bySequence[s.sequence.rawValue], var live = requests[entry.request] else { continue }
                let eog = live.request.stopTokens.contains(s.token)
                let text = eog ? "" : live.detokenizer.append(s.token)
                requests[entry.request] = live
                live.handler(.token(s.token, index: entry.tokenIndex, logprob: s.logprob.isNaN ? nil : s.logprob, top: s.topLogprobs))
                samples.append(SampledToken(sequence: Scheduling.SequenceID(s.sequence.rawValue), token: s.token, text: text))
            }
            apply(scheduler.complete(batch: planned.id, samples: samples))
        case let .error(report):
            // A stage that rejects one batch ("batch N: …") fails that batch's requests; the ring
            // and every other request go on. Any other report means the ring cannot be trusted.
            if let id = Self.batchID(in: report.message), let (planned, _) = inFlight.removeValue(forKey: id) {
                failBatch(planned, reason: "\(report.origin): \(report.message)")
            } else {
                post(.ringFailed("\(report.origin): \(report.message)"))
            }
        default:
            break  // echoes of free/reset/heartbeat that went round the ring
        }
    }

    /// The batch id at the start of a stage's per-batch error ("batch 12: …").
    static func batchID(in message: String) -> UInt64? {
        guard message.hasPrefix("batch ") else { return nil }
        return UInt64(message.dropFirst(6).prefix { $0.isNumber })
    }

    /// Fails every request that had a sequence in `planned`, frees their KV everywhere, and clears
    /// the slot so it schedules again.
    private func failBatch(_ planned: PlannedBatch, reason: String) {
        logger.error("a stage rejected a batch", metadata: ["batch.id": "\(planned.id.rawValue)", "error": "\(reason)"])
        for request in Set(planned.entries.map(\.request)) {
            if let live = requests.removeValue(forKey: request) { live.handler(.failed(reason)) }
            apply(scheduler.cancel(request))
        }
        apply(scheduler.complete(batch: planned.id, samples: []))
    }

    private func apply(_ events: [SchedulerEvent]) {
        for e in events {
            switch e {
            case let .text(id, delta):
                if !delta.isEmpty { requests[id]?.handler(.text(delta)) }
            case .token:
                break  // already reported with its logprob when it arrived
            case let .finished(id, reason, usage):
                if var live = requests.removeValue(forKey: id) {
                    if reason != .cancelled {
                        let tail = live.detokenizer.flush()
                        if !tail.isEmpty { live.handler(.text(tail)) }
                    }
                    live.handler(.finished(reason, usage))
                }
            case let .free(ids):
                try? ring.send(.freeSequences(ids.map { WireSequenceID($0.rawValue) }))
            }
        }
    }

    private func record(timings: [WireStageTiming], planned: PlannedBatch, sentAt: UInt64, receivedAt: UInt64) {
        let stageTimings = timings.map {
            PipelineTelemetry.StageTiming(stage: Int($0.stage.rawValue), waitNanoseconds: $0.waitNanoseconds,
                                          computeNanoseconds: $0.computeNanoseconds)
        }
        telemetry.recordBatch(stageTimings, finishedAtNanoseconds: receivedAt)
        lock.lock()
        for t in timings where Int(t.stage.rawValue) < snapshotValue.stageComputeNanoseconds.count {
            snapshotValue.stageComputeNanoseconds[Int(t.stage.rawValue)] += t.computeNanoseconds
            snapshotValue.stageWaitNanoseconds[Int(t.stage.rawValue)] += t.waitNanoseconds
        }
        snapshotValue.batches += 1
        if trace != nil {
            for t in timings where t.finishedAtNanoseconds > t.computeNanoseconds {
                trace?.batchSpan(track: .stage(Int(t.stage.rawValue)), batch: planned.id, slot: planned.slot, tokens: planned.tokenCount,
                                 startNanoseconds: t.finishedAtNanoseconds - t.computeNanoseconds, durationNanoseconds: t.computeNanoseconds)
            }
            trace?.batchSpan(name: "in flight", category: "coordinator", track: .coordinator, batch: planned.id, slot: planned.slot,
                             tokens: planned.tokenCount, startNanoseconds: sentAt, durationNanoseconds: receivedAt - sentAt)
        }
        lock.unlock()
    }

    private func publishSnapshot() {
        let s = scheduler
        let busy = telemetry.busyRatios
        let bubble = telemetry.bubbleRatio
        lock.lock()
        snapshotValue.waiting = s.waitingCount
        snapshotValue.running = s.runningCount
        snapshotValue.tokensInFlight = s.tokensInFlight
        snapshotValue.kvTokensUsed = s.kvTokensUsed
        snapshotValue.stageBusy = busy
        snapshotValue.bubbleRatio = bubble
        lock.unlock()
    }
}
