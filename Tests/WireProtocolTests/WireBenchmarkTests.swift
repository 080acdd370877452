import Foundation
import Testing
import WireProtocol

/// Prints latency and throughput numbers (not assertions on speed). Opt in with
/// PIPESERVE_WIRE_BENCH=1, ideally with `swift test -c release --filter WireBenchmark`.
@Suite(.serialized, .enabled(if: ProcessInfo.processInfo.environment["PIPESERVE_WIRE_BENCH"] == "1"))
struct WireBenchmarkTests {
    @Test(arguments: [0, 50])
    func roundTripLatency16x640(spinMicroseconds: Int) throws {
        let (a, b) = try UnixSocket.pair()
        let spin = Duration.microseconds(spinMicroseconds)
        let client = WireConnection(socket: a, spin: spin), echo = WireConnection(socket: b, spin: spin)
        let batch = Samples.batch(entries: 16, rows: 16, width: 640)
        let iterations = 2000
        let echoer = Worker { () -> Int in
            var n = 0
            while true {
                let m = try echo.receive()
                if m == .shutdown { return n }
                try echo.send(m)
                n += 1
            }
        }
        var samples: [UInt64] = []
        samples.reserveCapacity(iterations)
        for i in 0 ..< iterations + 200 {
            let t0 = WireClock.monotonicNanoseconds()
            try client.send(.forwardBatch(batch))
            let back = try client.receive(timeout: .seconds(10))
            if i >= 200 { samples.append(WireClock.monotonicNanoseconds() - t0) }
            if i == 0 { #expect(back == .forwardBatch(batch)) }
        }
        try client.send(.shutdown)
        #expect(try echoer.join() == iterations + 200)
        samples.sort()
        let frameBytes = WireCodec.encode(.forwardBatch(batch)).count
        print("wire RTT 16×640 f32 (\(frameBytes) B frame, spin \(spinMicroseconds) µs): median \(samples[samples.count / 2] / 1000) µs, p90 \(samples[samples.count * 9 / 10] / 1000) µs, p99 \(samples[samples.count * 99 / 100] / 1000) µs")
    }

    @Test(arguments: [WireActivationDType.f32, .f16, .bf16])
    func throughput512x640(dtype: WireActivationDType) throws {
        let (a, b) = try UnixSocket.pair()
        let sender = WireConnection(socket: a), receiver = WireConnection(socket: b)
        var metaVar = Samples.batch(entries: 16, rows: 512, width: 640)
        let values = metaVar.hiddenStates!.values
        metaVar.hiddenStates = nil
        let meta = metaVar
        let count = 200
        let w = Worker {
            try values.withUnsafeBufferPointer { buf in
                for _ in 0 ..< count {
                    try sender.sendForwardBatch(meta, hiddenStates: buf, rows: 512, width: 640, dtype: dtype)
                }
            }
        }
        let t0 = WireClock.monotonicNanoseconds()
        var rows = 0
        for _ in 0 ..< count {
            guard case let .forwardBatch(got) = try receiver.receive(timeout: .seconds(30)) else { Issue.record("not a batch"); return }
            rows += got.hiddenStates?.rows ?? 0
        }
        let seconds = Double(WireClock.monotonicNanoseconds() - t0) / 1e9
        try w.join()
        #expect(rows == 512 * count)
        let bytes = Double(count * 512 * 640 * dtype.byteWidth)
        print("wire throughput 512×640 \(dtype): \(String(format: "%.0f", Double(count) / seconds)) batches/s, \(String(format: "%.2f", bytes / seconds / 1e9)) GB/s of activations, \(String(format: "%.0f", seconds / Double(count) * 1e6)) µs per batch (encode + send + receive + decode)")
    }
}
