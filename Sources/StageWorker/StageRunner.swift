import ServingTypes
import CPlatform
import Foundation
import GGUF
import Kernels
import Logging
import ModelRuntime
import WireProtocol

/// A stage process's life: load layers [a, b), link to its neighbours, then run every batch that
/// arrives from upstream and send the result downstream until shutdown or upstream EOF.
public final class StageRunner {
    public let options: StageOptions
    let logger: Logger
    /// Outside control when the stage runs on a thread of the coordinator's process (nil for a
    /// stage process: signals do that there).
    let control: StageControl?

    public init(options: StageOptions, logger: Logger, control: StageControl? = nil) {
        self.options = options
        self.control = control
        var l = logger
        l[metadataKey: "stage.index"] = "\(options.index)"
        self.logger = l
    }

    /// Runs the stage; `onReady` is called once both links are up (the executable prints READY).
    /// Returns normally after a shutdown message or when upstream closes at a frame boundary.
    public func run(onReady: (StagePlacement.Observed) -> Void) throws {
        let o = options
        try o.placement.apply(logger: logger)
        let file = try GGUFFile(path: o.modelPath)
        let identity = ModelIdentity(file: file)
        let cpus = try o.placement.effectiveCPUs()
        let model = try LayerRangeModel(file: file, layers: o.layers, threads: o.threads,
                                        cpus: cpus.isEmpty ? nil : (0..<o.threads).map { cpus[$0 % cpus.count] }, logger: logger)
        if o.sharedCPUs { model.pool.setIdleSpin(ThreadPool.sharedIdleSpin) }
        let engine = StageEngine(model: model, vocabulary: o.isLast ? { try StageVocabulary.vocabulary(of: file, identity: identity) } : nil)
        let timeout = Duration.milliseconds(Int64(o.linkTimeoutSeconds * 1000))

        let listener = try UnixListener(path: o.listenPath)
        defer { listener.close() }

        // Downstream first: the chain links up from the coordinator's end.
        let downstream = WireConnection(socket: try linking(timeout) { slice throws(WireError) in
            try UnixSocket.connect(path: o.nextPath, timeout: slice)
        })
        control?.attach(downstream)
        defer { downstream.close() }
        try downstream.send(.hello(WireHello(model: identity, stageCount: UInt16(o.stageCount), receiver: o.downstreamRole,
                                             layerRange: o.nextLayers.map { UInt32($0.lowerBound)..<UInt32($0.upperBound) } ?? 0..<0,
                                             activationDType: o.activationDType, sender: o.role)))
        switch try downstream.receive(timeout: timeout) {
        case .helloAck: break
        case let .error(report): throw StageError.handshake("\(o.downstreamRole) refused: \(report.message)")
        case let other: throw StageError.handshake("\(o.downstreamRole) answered \(other.type) to hello")
        }

        let upstreamSocket = try linking(timeout) { [logger] slice throws(WireError) in
            try listener.acceptRejectingOtherUIDs(timeout: slice) { error in
                logger.warning("refused a connection", metadata: ["error": "\(error)"])
            }
        }
        let upstream = WireConnection(socket: upstreamSocket, spin: .zero)
        control?.attach(upstream)
        defer { upstream.close() }
        guard case let .hello(hello) = try upstream.receive(timeout: timeout) else {
            throw StageError.handshake("upstream did not start with hello")
        }
        if let refusal = Handshake.refusal(of: hello, receiver: o.role, identity: identity, stageCount: o.stageCount,
                                           layers: o.layers, dtype: o.activationDType) {
            try? upstream.send(.error(refusal))
            throw StageError.handshake(refusal.message)
        }
        try upstream.send(.helloAck(WireHelloAck(receiver: o.role, pid: getpid())))
        onReady(StagePlacement.observe())
        logger.info("stage linked", metadata: ["stage.layers": "\(o.layers)", "stage.threads": "\(model.pool.count)"])
        let writer = DownstreamWriter(connection: downstream)
        defer { writer.finish() }
        try loop(engine: engine, upstream: upstream, downstream: writer)
    }

    private func now() -> UInt64 { WireClock.monotonicNanoseconds() }

    /// Runs a linking step (connect, accept) within `timeout`. A stage on a thread waits in short
    /// slices so that `StageControl.crash()` ends it at once, as SIGKILL ends a process.
    private func linking<T>(_ timeout: Duration, _ step: (Duration) throws(WireError) -> T) throws -> T {
        guard let control else { return try step(timeout) }
        let parts = timeout.components
        let deadline = now() + UInt64(max(0, parts.seconds)) * 1_000_000_000 + UInt64(max(0, parts.attoseconds) / 1_000_000_000)
        while true {
            let left = deadline > now() ? deadline - now() : 0
            let r: Result<T, WireError>
            do { r = .success(try step(.nanoseconds(Int64(min(left, 100_000_000))))) } catch { r = .failure(error) }
            switch r {
            case let .success(v): return v
            case let .failure(e):
                guard e == .timedOut || { if case .connectTimedOut = e { true } else { false } }() else { throw e }
                if control.isCrashed { throw StageError.link("stage crashed on request") }
                if now() >= deadline { throw e }
            }
        }
    }

    func loop(engine: StageEngine, upstream: WireConnection, downstream: DownstreamWriter) throws {
        let o = options
        let stage = StageIndex(UInt16(o.index))
        var waitStart = now()
        /// The API request of each sequence this stage holds, for its log lines.
        var requestOf: [SequenceID: String] = [:]
        while true {
            let received: Result<WireMessage, WireError>
            do { received = .success(try upstream.receive()) } catch { received = .failure(error) }
            let message: WireMessage
            switch received {
            case let .success(m): message = m
            case .failure where control?.isCrashed == true:
                throw StageError.link("stage crashed on request")
            case .failure(.closed):
                logger.info("upstream closed; stage exiting")
                return
            case let .failure(e): throw e
            }
            try control?.checkpoint()
            let waited = now() - waitStart
            switch message {
            case let .forwardBatch(b):
                var fb = b
                for e in fb.entries where !e.requestLabel.isEmpty { requestOf[e.sequence] = e.requestLabel }
                let t0 = now()
                let entries = fb.entries.map { e in
                    StageEngine.Entry(sequence: e.sequence, startPosition: Int(e.startPosition),
                                      count: Int(e.count), logits: e.logits.runtime, tokens: e.tokens,
                                      sampling: e.sampling, tokenIndex: Int(e.tokenIndex),
                                      topLogprobs: Int(e.topLogprobs), wantLogprob: e.topLogprobs > 0,
                                      restoreBlocks: e.restoreBlocks.map(\.runtime), storeBlocks: e.storeBlocks.map(\.runtime),
                                      constraint: e.constraint.map(\.runtime))
                }
                let output: StageEngine.Output
                do {
                    output = try engine.run(entries, hidden: fb.hiddenStates?.values)
                } catch {
                    let requests = Set(fb.entries.compactMap { requestOf[$0.sequence] }).sorted()
                    logger.error("batch failed", metadata: ["batch.id": "\(fb.batch.rawValue)", "request.id": "\(requests)",
                                                            "error": "\(error)"])
                    let code: WireErrorCode
                    if case ModelRuntimeError.blockMissing = error { code = .blockMissing } else { code = .internalFailure }
                    var message = "batch \(fb.batch.rawValue): \(error)"
                    if let c = error as? StageConstraintError, let request = requestOf[c.sequence] { message += " (request \(request))" }
                    try downstream.send(.error(WireErrorReport(origin: o.role, code: code, batch: fb.batch, message: message)))
                    waitStart = now()
                    continue
                }
                let finished = now()
                fb.timings.append(WireStageTiming(stage: stage, waitNanoseconds: waited, computeNanoseconds: finished - t0,
                                                  finishedAtNanoseconds: finished))
                switch output {
                case let .hidden(h):
                    fb.hiddenStates = nil
                    let rows = fb.entries.reduce(0) { $0 + Int($1.count) }
                    try downstream.send(fb, hidden: h, rows: rows, dtype: o.activationDType)
                case let .samples(samples):
                    let tokens = samples.map { s in
                        WireSampledToken(sequence: s.sequence, token: s.token, logprob: s.logprob ?? .nan,
                                         topLogprobs: s.topLogprobs.map { WireTopLogprob(token: $0.token, logprob: $0.logprob) },
                                         constraintDead: s.constraintDead)
                    }
                    try downstream.send(.sampledTokens(WireSampledTokens(batch: fb.batch, slot: fb.slot, tokens: tokens, timings: fb.timings)))
                }
            case let .freeSequences(ids):
                engine.free(ids)
                for id in ids { requestOf[id] = nil }
                try downstream.send(message)
            case let .dropBlocks(names):
                engine.dropBlocks(names)
                try downstream.send(message)
            case .reset:
                engine.reset()
                requestOf.removeAll()
                try downstream.send(message)
            case .heartbeat, .error:
                try downstream.send(message)
            case .shutdown:
                try? downstream.send(message)
                downstream.finish()
                logger.info("shutdown received; stage exiting")
                return
            case .hello, .helloAck, .sampledTokens:
                throw StageError.protocolViolation("unexpected \(message.type) from upstream")
            }
            waitStart = now()
        }
    }
}

extension WireBlockRef {
    var runtime: KVBlockRef { KVBlockRef(name: name, startPosition: Int(startPosition), count: Int(count)) }
}

extension WireConstraint {
    var runtime: StageConstraint {
        StageConstraint(constraint: constraint, promptLength: Int(promptLength), ignoresEOS: ignoresEOS)
    }
}

extension WireLogitsMode {
    var runtime: LogitsRequest {
        switch self {
        case .none: return .none
        case .last: return .last
        case .all: return .all
        }
    }
}
