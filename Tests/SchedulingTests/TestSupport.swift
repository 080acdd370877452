import Testing
@testable import Scheduling
import ServingTypes

func config(m: Int = 2, batchTokens: Int = 16, kv: Int = 1024, queue: Int = 8, running: Int = 16,
            context: Int = 256, chunked: Bool = true, chunk: Int? = nil) -> SchedulerConfiguration {
    SchedulerConfiguration(microBatches: m, maxBatchTokens: batchTokens, kvCacheTokens: kv, maxQueue: queue,
                           maxRunning: running, contextLength: context, chunkedPrefill: chunked, prefillChunkTokens: chunk)
}

func makeScheduler(_ c: SchedulerConfiguration) -> Scheduler {
    do { return try Scheduler(configuration: c) } catch {
        Issue.record("configuration rejected: \(error)")
        return try! Scheduler(configuration: config())
    }
}

func request(_ id: UInt64, prompt: Int, maxTokens: Int = 8, stopTokens: Set<Int32> = []) -> SequenceRequest {
    SequenceRequest(id: SequenceID(id), prompt: (0 ..< prompt).map { Int32(1000 + $0) }, maxTokens: maxTokens,
                    stopTokenIDs: stopTokens)
}

@discardableResult
func submitOK(_ s: inout Scheduler, _ r: SequenceRequest, sourceLocation: SourceLocation = #_sourceLocation) -> SequenceID {
    guard case let .queued(id) = s.submit(r) else {
        Issue.record("submission of \(r.id) refused", sourceLocation: sourceLocation)
        return SequenceID(0)
    }
    return id
}

/// Answers every sampling entry of `b` with `token(entry)`.
func completeAll(_ s: inout Scheduler, _ b: PlannedBatch,
                 token: (BatchEntry) -> Int32 = { Int32(500 + $0.tokenIndex) }) -> [SchedulerEvent] {
    let samples = b.entries.filter(\.wantsSample).map { SampledToken(sequence: $0.sequence, token: token($0)) }
    return s.complete(batch: b.id, samples: samples)
}

func tokens(_ events: [SchedulerEvent], for r: UInt64) -> [(Int32, Int)] {
    events.compactMap { if case let .token(id, t, i) = $0, id == SequenceID(r) { return (t, i) } else { return nil } }
}

func finish(_ events: [SchedulerEvent], for r: UInt64) -> (FinishReason, Usage)? {
    for e in events { if case let .finished(id, reason, usage) = e, id == SequenceID(r) { return (reason, usage) } }
    return nil
}

func freed(_ events: [SchedulerEvent]) -> [SequenceID] {
    events.flatMap { if case let .free(ids) = $0 { return ids } else { return [] } }
}
