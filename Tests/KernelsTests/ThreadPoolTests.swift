import Foundation
import Kernels
import Testing

/// The pool's idle spin only changes how soon workers sleep, never what a run computes or
/// whether a run after a long idle period finds its workers.
@Suite struct ThreadPoolTests {
    final class Sums: @unchecked Sendable {
        // Sendable: each chunk writes its own slot.
        var values: [Int]
        init(_ n: Int) { values = Array(repeating: 0, count: n) }
    }

    @Test(arguments: [0, ThreadPool.sharedIdleSpin, ThreadPool.exclusiveIdleSpin])
    func everyChunkRunsOnceWhateverTheIdleSpin(spin: Int) {
        let pool = ThreadPool(threads: 3)
        pool.setIdleSpin(spin)
        for round in 0..<200 {
            let sums = Sums(64)
            withExtendedLifetime(sums) {
                pool.run({ ctx, i, _ in
                    let s = Unmanaged<Sums>.fromOpaque(ctx!).takeUnretainedValue()
                    s.values[Int(i)] += Int(i) + 1
                }, Unmanaged.passUnretained(sums).toOpaque(), chunks: 64)
            }
            #expect(sums.values == (1...64).map { $0 }, "round \(round)")
            if round % 50 == 0 { usleep(20_000) }  // workers asleep: the next run must wake them
        }
    }
}
