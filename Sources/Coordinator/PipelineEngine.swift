import Foundation
import Logging
import Scheduling
import ServingTypes
import Tokenization
import WireProtocol

/// Drives a ring of stages with the micro-batch scheduler: up to M batches in flight; when a
/// slot's sampled tokens return it applies them, streams text to each request's handler, and sends
/// that slot's next batch at once (continuous batching).
///
/// The engine owns the ring's life: its engine thread spawns the stages (so their parent-death
/// signal follows a thread that lives as long as the engine), restarts them when one crashes or
/// hangs — every running sequence is recomputed from its prompt and generated tokens, so clients
/// see a delay, not an error — and applies a new partition on `reconfigure` by draining the ring
/// and restarting it. A receiver thread per ring turns its messages into inbox items. Handlers
/// are called on the engine thread.
///
/// How the stages run is the launcher's business (`RingExecutor`): a process per stage for the
/// daemon, threads in this process for tests (`ThreadRing`); the engine is the same for both.
public final class PipelineEngine: @unchecked Sendable {
    // Sendable: `scheduler`, `requests`, `inFlight`, `ring`, `telemetry` and the recovery state
    // are touched only on the engine thread; the inbox, status and snapshot are guarded by `lock`.

    /// What a client asks for; one sequence (the API makes n of these for n choices), in the
    /// shared request vocabulary.
    public struct Request: Sendable {
        /// Unique for the engine's lifetime (`makeSequenceID()`); the stages key its KV by it.
        public var id: SequenceID
        /// The API request it belongs to, for log lines.
        public var requestID: RequestID
        public var prompt: [Int32]
        public var stop: StopConditions
        public var sampling: SamplingParameters
        /// Alternatives to report with each sampled token's logprob (0–20).
        public var topLogprobs: Int
        /// The shape the output must have (applied by the last stage when it samples); nil: free text.
        public var constraint: OutputConstraint?
        public init(id: SequenceID, requestID: RequestID = "", prompt: [Int32], stop: StopConditions,
                    sampling: SamplingParameters = SamplingParameters(), topLogprobs: Int = 0, constraint: OutputConstraint? = nil) {
            self.id = id; self.requestID = requestID; self.prompt = prompt; self.stop = stop
            self.sampling = sampling; self.topLogprobs = topLogprobs; self.constraint = constraint
        }
    }

    /// What a request's handler hears.
    public enum Event: Sendable {
        /// A generated token (index within the request) with its logprob when asked for.
        case token(Int32, index: Int, logprob: Float?, top: [WireTopLogprob])
        /// New text (held back around possible stop strings, never half a UTF-8 character).
        case text(String)
        case finished(FinishReason, Usage)
        /// The engine failed this request (a stage rejected its batch, the scheduler refused it as
        /// invalid).
        case failed(String)
        /// The engine could not take this request now (an API answers 503).
        case refused(String, Refusal)
    }

    /// Why a request was turned away rather than failed.
    public enum Refusal: Sendable, Equatable {
        /// The waiting queue is full: retry shortly.
        case queueFull
        /// The engine is stopping or has failed for good.
        case unavailable
    }

    public typealias Handler = @Sendable (Event) -> Void

    /// Where the engine is in its life.
    public enum Status: Sendable, Equatable {
        case starting
        case ready
        /// The ring is being restarted (crash, hang) or repartitioned; requests wait.
        case recovering(String)
        /// Gave up (restart budget spent, or stopped); requests fail.
        case failed(String)
    }

    /// Counters and gauges for metrics and `bench`.
    public struct Snapshot: Sendable {
        public var waiting = 0
        public var running = 0
        public var tokensInFlight = 0
        public var kvTokensUsed = 0
        /// KV positions the stages keep for the prefix cache, and the blocks that hold them.
        public var kvTokensCached = 0
        public var prefixCacheBlocks = 0
        /// Prompt positions looked up in the prefix cache, and those found there (not computed).
        public var prefixQueryTokens = 0
        public var prefixHitTokens = 0
        /// Stall-free mixing: prompt tokens the ring may carry per rotation while streams decode
        /// (nil until a solo rotation was seen, or with the limit off), and the rotations with
        /// prompt work seen, of which above the limit.
        public var decodingChunkTokens: Int?
        public var mixedRotations = 0
        public var stalledRotations = 0
        public var stageBusy: [Double?] = []
        public var bubbleRatio: Double?
        public var stageComputeNanoseconds: [UInt64] = []
        public var stageWaitNanoseconds: [UInt64] = []
        public var batches: UInt64 = 0
        /// Σ over returned batches of (round trip − Σ stage compute): what the links, framing and
        /// queueing behind other batches cost. With one micro-batch there is no queueing, and this
        /// divided by batches × (stages + 1) is the cost of one hop.
        public var transportNanoseconds: UInt64 = 0
        /// Throughput of the iterations that only decoded (no prompt chunk, no recompute): the
        /// figure comparable with llama-batched-bench's S_TG.
        public var decodePhase = DecodePhaseMeter()
        /// Ring restarts after a crash or hang (not counting reconfigurations).
        public var restarts = 0
        /// Partitions applied by `reconfigure`.
        public var reconfigurations = 0
        /// Sequences sent back to the queue to be recomputed after a restart.
        public var recomputedSequences = 0
        /// The current partition (layers of each stage) and the stage processes' ids.
        public var stageLayers: [Range<Int>] = []
        public var stagePIDs: [Int32] = []
        public var microBatches = 0
    }

    enum InboxItem {
        case submit(Request, Handler)
        case cancel(SequenceID)
        case ring(WireMessage, generation: Int)
        case ringFailed(String, generation: Int)
        case reconfigure(Reconfiguration)
        case stop
    }

    struct Reconfiguration {
        var ring: RingConfiguration
        var microBatches: Int
        var prefillChunkTokens: Int?
        var done: @Sendable (Result<Void, any Error>) -> Void
    }


    let tokenizer: Tokenizer
    let logger: Logger
    let policy: RecoveryPolicy
    let maxQueue: Int
    /// The scheduler configuration given at init (micro-batches may change on reconfigure).
    let schedulerTemplate: SchedulerConfiguration

    // Engine-thread state.
    var ringConfiguration: RingConfiguration
    var ring: (any RingExecutor)?
    let launcher: RingLauncher
    var generation = 0
    /// Requests, batches and output processing: the state machine this runner carries out.
    var core: EngineCore
    /// Each sequence's handler, until its last event.
    var handlers: [SequenceID: Handler] = [:]
    var telemetry: PipelineTelemetry
    var trace: TraceRecorder?
    var budget: RestartBudget
    var liveness: RingLiveness
    var heartbeatNumber: UInt64 = 0
    var pendingReconfiguration: Reconfiguration?
    var failedReason: String? { core.failedReason }

    // Shared state, guarded by `lock`.
    let lock = NSCondition()
    var inbox: [InboxItem] = []
    var snapshotValue = Snapshot()
    var statusValue = Status.starting
    var statusObservers: [@Sendable (Status) -> Void] = []
    private var thread: Thread?
    private var nextSequence: UInt64 = 0
    private var finished = false

    public init(ringConfiguration: RingConfiguration, scheduler configuration: SchedulerConfiguration, tokenizer: Tokenizer,
                recovery: RecoveryPolicy = RecoveryPolicy(), trace: Bool = false, logger: Logger,
                launcher: RingLauncher = .processes) throws {
        self.ringConfiguration = ringConfiguration
        self.launcher = launcher
        self.tokenizer = tokenizer
        self.logger = logger
        self.policy = recovery
        self.core = EngineCore(scheduler: try Scheduler(configuration: configuration), tokenizer: tokenizer)
        self.maxQueue = configuration.maxQueue
        self.schedulerTemplate = configuration
        let stages = ringConfiguration.stages.count
        self.telemetry = PipelineTelemetry(stageCount: stages, window: .nanoseconds(10_000_000_000))
        self.trace = trace ? TraceRecorder(stageCount: stages) : nil
        self.budget = RestartBudget(policy: recovery)
        self.liveness = RingLiveness(timeout: recovery.heartbeatTimeoutSeconds, now: 0)
        snapshotValue.microBatches = configuration.microBatches
        snapshotValue.stageComputeNanoseconds = Array(repeating: 0, count: stages)
        snapshotValue.stageWaitNanoseconds = Array(repeating: 0, count: stages)
    }

    /// Starts the engine thread, which spawns and links the stages; returns once they are ready,
    /// or throws why they could not start (`RingError`).
    public func start() throws {
        let started = StartSignal()
        let t = Thread { [self] in engineMain(started) }
        t.name = "pipeserve-engine"
        lock.lock(); thread = t; lock.unlock()
        t.start()
        if let error = started.wait() { throw error }
    }

    /// Stops the engine: waiting and running requests are failed, the stages are shut down.
    public func stop() {
        post(.stop)
        lock.lock()
        while thread != nil && !finished { _ = lock.wait(until: Date().addingTimeInterval(0.05)) }
        lock.unlock()
    }

    /// Queues a request; the handler hears its tokens, text and end. Returns false (and queues
    /// nothing) when the waiting queue is already full, so an API can answer 503 at once; the
    /// scheduler's own bound still applies to what races past this check. During a restart
    /// requests are queued and wait.
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

    /// Queues several requests at once, so the engine's next iteration sees all of them (a burst
    /// arriving together, as a benchmark's closed workload means). Returns, per request, whether it
    /// was queued; those past the waiting queue's room are not.
    @discardableResult
    public func submitAll(_ requests: [(Request, Handler)]) -> [Bool] {
        lock.lock()
        var pending = inbox.reduce(0) { if case .submit = $1 { return $0 + 1 } else { return $0 } }
        var queued: [Bool] = []
        for (request, handler) in requests {
            if snapshotValue.waiting + pending >= maxQueue { queued.append(false); continue }
            inbox.append(.submit(request, handler))
            pending += 1
            queued.append(true)
        }
        lock.signal()
        lock.unlock()
        return queued
    }

    /// Applies a new partition (stages, layers, threads, placement, wire dtype, micro-batches):
    /// the engine stops sending new batches, lets the in-flight ones return, restarts the ring
    /// with `ring`, and recomputes every running sequence there; queued requests wait, none is
    /// lost. If the new ring cannot start, the old configuration is started again and `done`
    /// hears the error. `done` is called on the engine thread. `prefillChunkTokens`, when given,
    /// replaces the scheduler's prompt tokens per micro-batch.
    public func reconfigure(_ ring: RingConfiguration, microBatches: Int, prefillChunkTokens: Int? = nil,
                            done: @escaping @Sendable (Result<Void, any Error>) -> Void) {
        var c = schedulerTemplate
        c.microBatches = microBatches
        if let prefillChunkTokens { c.prefillChunkTokens = prefillChunkTokens }
        do { try c.validate() } catch { done(.failure(error)); return }
        post(.reconfigure(Reconfiguration(ring: ring, microBatches: microBatches, prefillChunkTokens: prefillChunkTokens, done: done)))
    }

    /// Cancels a request (its KV cache is freed in every stage).
    public func cancel(_ id: SequenceID) { post(.cancel(id)) }

    /// A sequence id never used before by this engine.
    public func makeSequenceID() -> SequenceID {
        lock.lock(); defer { lock.unlock() }
        nextSequence += 1
        return SequenceID(nextSequence)
    }

    /// Current status (thread-safe).
    public var status: Status {
        lock.lock(); defer { lock.unlock() }
        return statusValue
    }

    /// Why the engine gave up, if it did (requests then fail).
    public var failure: String? {
        if case let .failed(why) = status { return why }
        return nil
    }

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

    func post(_ item: InboxItem) {
        lock.lock()
        inbox.append(item)
        lock.signal()
        lock.unlock()
    }

    func setStatus(_ s: Status) {
        lock.lock()
        let changed = statusValue != s
        statusValue = s
        let observers = statusObservers
        lock.unlock()
        if changed { for observe in observers { observe(s) } }
    }

    /// Calls `observer` (on the engine's thread, or the caller's) with every new status, so that
    /// services react to a restart, a reload or a failure when it happens instead of polling.
    public func onStatusChange(_ observer: @escaping @Sendable (Status) -> Void) {
        lock.lock(); statusObservers.append(observer); lock.unlock()
    }

    static func seconds() -> Double { Double(WireClock.monotonicNanoseconds()) / 1e9 }
    func now() -> UInt64 { WireClock.monotonicNanoseconds() }

    // MARK: The engine thread

    private func engineMain(_ started: StartSignal) {
        do {
            try bringUp(ringConfiguration)
            setStatus(.ready)
            started.finish(nil)
        } catch {
            setStatus(.failed("\(error)"))
            started.finish(error)
            markFinished()
            return
        }
        runLoop()
        if let ring { ring.shutdown(graceSeconds: 3) }
        ring = nil
        publishSnapshot()
        markFinished()
    }

    private func markFinished() {
        lock.lock(); finished = true; lock.broadcast(); lock.unlock()
    }

    private func runLoop() {
        // Wake at least this often to watch the ring's liveness.
        let tick = policy.heartbeatTimeoutSeconds > 0 ? min(0.25, policy.heartbeatTimeoutSeconds / 8) : 1
        loop: while true {
            lock.lock()
            if inbox.isEmpty { _ = lock.wait(until: Date().addingTimeInterval(tick)) }
            let items = inbox
            inbox.removeAll()
            lock.unlock()
            for item in items {
                switch item {
                case let .submit(r, h):
                    handlers[r.id] = h
                    perform(core.submit(r))
                case let .cancel(id):
                    perform(core.cancel(id))
                case let .ring(m, gen):
                    guard gen == generation else { continue }
                    liveness.received(at: Self.seconds(), heartbeat: m.type == .heartbeat)
                    handleRing(m)
                case let .ringFailed(reason, gen):
                    guard gen == generation, failedReason == nil else { continue }
                    recover(from: reason)
                case let .reconfigure(r):
                    if let failedReason { r.done(.failure(RingError.link(stage: nil, "the service has failed: \(failedReason)"))); continue }
                    if let previous = pendingReconfiguration {
                        previous.done(.failure(RingError.link(stage: nil, "superseded by a newer configuration")))
                    }
                    pendingReconfiguration = r
                    setStatus(.recovering("applying a new partition: draining the ring"))
                case .stop:
                    perform(core.stop())
                    if let r = pendingReconfiguration { r.done(.failure(RingError.link(stage: nil, "engine stopped"))) }
                    break loop
                }
            }
            if failedReason == nil {
                if let r = pendingReconfiguration {
                    if core.inFlight.isEmpty { pendingReconfiguration = nil; applyReconfiguration(r) }
                } else {
                    sendReadyBatches()
                }
                watchLiveness()
            }
            publishSnapshot()
        }
    }

    /// Carries out the core's actions in order: messages to stage 0 (a failed send fails the
    /// ring), events to handlers (a sequence's last event drops its handler).
    func perform(_ actions: [EngineCore.Action]) {
        for action in actions {
            switch action {
            case let .send(message):
                guard let ring else { continue }
                do { try ring.send(message) } catch {
                    post(.ringFailed("cannot send to stage 0: \(error)", generation: generation))
                }
            case let .emit(id, event):
                switch event {
                case .finished, .failed, .refused: handlers.removeValue(forKey: id)?(event)
                case .token, .text: handlers[id]?(event)
                }
            }
        }
    }

    func publishSnapshot() {
        let s = core.scheduler
        let busy = telemetry.busyRatios
        let bubble = telemetry.bubbleRatio
        lock.lock()
        snapshotValue.waiting = s.waitingCount
        snapshotValue.running = s.runningCount
        snapshotValue.tokensInFlight = s.tokensInFlight
        snapshotValue.kvTokensUsed = s.kvTokensUsed
        snapshotValue.kvTokensCached = s.kvTokensCached
        snapshotValue.prefixCacheBlocks = s.prefixCache?.count ?? 0
        snapshotValue.prefixQueryTokens = s.counters.prefixQueryTokens
        snapshotValue.prefixHitTokens = s.counters.prefixHitTokens
        snapshotValue.decodingChunkTokens = s.decodingChunkTokens
        snapshotValue.mixedRotations = Int(s.stallGuard?.mixedRotations ?? 0)
        snapshotValue.stalledRotations = Int(s.stallGuard?.stalledRotations ?? 0)
        snapshotValue.stageBusy = busy
        snapshotValue.bubbleRatio = bubble
        snapshotValue.microBatches = s.configuration.microBatches
        lock.unlock()
    }
}

/// The engine thread's answer to `start()`.
final class StartSignal: @unchecked Sendable {
    // Sendable: guarded by `cond`.
    private let cond = NSCondition()
    private var done = false
    private var error: (any Error)?

    func finish(_ e: (any Error)?) { cond.lock(); error = e; done = true; cond.broadcast(); cond.unlock() }

    func wait() -> (any Error)? {
        cond.lock(); defer { cond.unlock() }
        while !done { cond.wait() }
        return error
    }
}
