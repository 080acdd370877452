import Testing
@testable import Scheduling
import ServingTypes

@Suite struct TelemetryTests {
    typealias T = PipelineTelemetry.StageTiming

    @Test func batchWindowKeepsTheLastNPerStage() {
        var t = PipelineTelemetry(stageCount: 2, window: .batches(2))
        t.record(T(stage: 0, waitNanoseconds: 100, computeNanoseconds: 300), finishedAtNanoseconds: 1)
        t.record(T(stage: 0, waitNanoseconds: 0, computeNanoseconds: 100), finishedAtNanoseconds: 2)
        t.record(T(stage: 0, waitNanoseconds: 100, computeNanoseconds: 100), finishedAtNanoseconds: 3)
        #expect(t.windowCount(stage: 0) == 2)
        #expect(t.busyRatio(stage: 0) == 200.0 / 300.0)
        #expect(t.busyRatio(stage: 1) == nil)
        #expect(t.stageCounters[0] == .init(batches: 3, waitNanoseconds: 200, computeNanoseconds: 500))
    }

    @Test func durationWindowDropsSamplesOlderThanTheSpan() {
        var t = PipelineTelemetry(stageCount: 1, window: .nanoseconds(1000))
        for (finish, compute) in [(UInt64(0), UInt64(10)), (500, 20), (1200, 30), (1600, 40)] {
            t.record(T(stage: 0, waitNanoseconds: 10, computeNanoseconds: compute), finishedAtNanoseconds: finish)
        }
        // Newest finish 1600: the window is [600, 1600].
        #expect(t.windowCount(stage: 0) == 2)
        #expect(t.busyRatio(stage: 0) == 70.0 / 90.0)
        // A late sample far ahead empties the older ones.
        t.record(T(stage: 0, waitNanoseconds: 0, computeNanoseconds: 5), finishedAtNanoseconds: 10_000)
        #expect(t.windowCount(stage: 0) == 1 && t.busyRatio(stage: 0) == 1)
    }

    @Test func bubbleIsOneMinusTheMeanBusyRatio() {
        var t = PipelineTelemetry(stageCount: 3, window: .batches(10))
        #expect(t.bubbleRatio == nil)
        t.recordBatch([T(stage: 0, waitNanoseconds: 0, computeNanoseconds: 100),
                       T(stage: 1, waitNanoseconds: 100, computeNanoseconds: 100),
                       T(stage: 7, waitNanoseconds: 1, computeNanoseconds: 1)], finishedAtNanoseconds: 5)
        #expect(t.ignoredTimings == 1 && t.batchesRecorded == 1)
        #expect(t.busyRatios == [1.0, 0.5, nil])
        #expect(abs(t.bubbleRatio! - 0.25) < 1e-12)
    }

    /// Stage reports from a simulated one-round pipeline give the GPipe per-stage picture:
    /// every stage computes M batches; stage s waits s·c before its first.
    @Test func simulatedStageTimingsFeedTheTelemetry() {
        var sim = simulator(stages: 3, config(m: 3, batchTokens: 16), fixed: 1, perToken: 0)
        for i in 1 ... 3 { sim.submit(request(UInt64(i), prompt: 4, maxTokens: 1)) }
        sim.run()
        var t = PipelineTelemetry(stageCount: 3, window: .batches(100))
        for s in 0 ..< 3 {
            for span in sim.spans[s] {
                t.record(T(stage: s, waitNanoseconds: UInt64(span.wait * 1e6), computeNanoseconds: UInt64((span.end - span.start) * 1e6)),
                         finishedAtNanoseconds: UInt64(span.end * 1e6))
            }
        }
        #expect(t.busyRatios == [1.0, 0.75, 0.6])
    }
}

@Suite struct TraceRecorderTests {
    @Test func outputIsValidTraceEventJSON() throws {
        var r = TraceRecorder(stageCount: 2)
        r.batchSpan(track: .stage(0), batch: BatchID(7), slot: SlotIndex(1), tokens: 33,
                    startNanoseconds: 1_234_567, durationNanoseconds: 2_000_005)
        r.span(name: "plan \"x\"\n\u{01}é→", category: "sched", track: .coordinator, startNanoseconds: 5,
               durationNanoseconds: 0, args: [("note", .string("a\\b\t")), ("ratio", .double(0.5)), ("bad", .double(.nan))])
        let json = r.json()
        let root = try JSONParser.parse(json)
        #expect(root["displayTimeUnit"]?.string == "ms")
        let events = root["traceEvents"]?.array ?? []
        // process_name + (thread_name + thread_sort_index) × 3 tracks + 2 spans
        #expect(events.count == 1 + 6 + 2)
        let names = events.filter { $0["name"]?.string == "thread_name" }.compactMap { $0["args"]?["name"]?.string }
        #expect(names == ["coordinator", "stage 0", "stage 1"])
        let spans = events.filter { $0["ph"]?.string == "X" }
        #expect(spans.count == 2)
        #expect(spans[0]["ts"]?.number == 1234.567 && spans[0]["dur"]?.number == 2000.005)
        #expect(spans[0]["tid"]?.number == 1)
        #expect(spans[0]["args"]?["batch"]?.number == 7 && spans[0]["args"]?["slot"]?.number == 1
                && spans[0]["args"]?["tokens"]?.number == 33)
        #expect(spans[1]["name"]?.string == "plan \"x\"\n\u{01}é→")
        #expect(spans[1]["tid"]?.number == 0 && spans[1]["ts"]?.number == 0.005)
        #expect(spans[1]["args"]?["note"]?.string == "a\\b\t")
        #expect(spans[1]["args"]?["bad"] == .null)
    }

    @Test func emptyTraceIsValidAndSpansAreBounded() throws {
        var r = TraceRecorder(stageCount: 1, maxSpans: 1)
        _ = try JSONParser.parse(r.json())
        r.span(name: "a", category: "c", track: .stage(0), startNanoseconds: 0, durationNanoseconds: 1)
        r.span(name: "b", category: "c", track: .stage(0), startNanoseconds: 1, durationNanoseconds: 1)
        #expect(r.spanCount == 1 && r.droppedSpans == 1)
        _ = try JSONParser.parse(r.json())
    }

    @Test func theCheckerRejectsBrokenJSON() {
        for bad in [#"{"a":1,}"#, #"{"a":"x\q"}"#, "{\"a\":\"\u{01}\"}", #"[1 2]"#, #"{"a":01}"#, #"{"a":1"#] {
            #expect(throws: JSONParseError.self) { _ = try JSONParser.parse(bad) }
        }
    }
}
