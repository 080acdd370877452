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

    /// forEachShare covers every row exactly once in disjoint, ordered shares, on the pool when
    /// there are enough rows and in one piece on the caller otherwise.
    @Test(arguments: [1, 2, 3])
    func sharesCoverEveryRowOnce(threads: Int) {
        let pool = ThreadPool(threads: threads)
        for rows in [0, 1, 7, 8, 9, 31, 64, 513] {
            let hits = Sums(rows)
            let shares = Sums(0)
            let lock = NSLock()
            pool.forEachShare(of: rows) { lo, hi in
                #expect(lo < hi && hi <= rows)
                for r in lo..<hi { hits.values[r] += 1 }
                lock.lock()
                shares.values.append(lo)
                lock.unlock()
            }
            #expect(hits.values.allSatisfy { $0 == 1 }, "\(threads) threads, \(rows) rows")
            let pieces = shares.values.count
            if rows == 0 { #expect(pieces == 0) }
            else if threads == 1 || rows < 8 { #expect(pieces == 1, "\(threads) threads, \(rows) rows: in one piece") }
            else { #expect(pieces > 1, "\(threads) threads, \(rows) rows: split") }
        }
    }
}

/// The pool under churn: back-to-back runs of tiny jobs whose chunk counts change from run to run
/// (a forward pass alternates matrix products, attention and element-wise jobs of different chunk
/// counts), with workers that sleep between runs and more threads than cores, so a worker often
/// wakes late for a run that the caller has already finished alone, and the caller is by then
/// writing the next one. Every run must call each of its chunks exactly once, with its own chunk
/// count, and must return (a lost chunk would leave it waiting). Runs are checked in batches, so
/// that nothing but the call separates two runs, as in a forward pass.
@Suite struct ThreadPoolChurnTests {
    /// One run's record: how often each chunk index ran, and with which count.
    struct Ledger {
        var calls: UnsafeMutablePointer<Int32>   // `slots` per run
        var counts: UnsafeMutablePointer<Int32>
    }

    static let slots = 32

    /// Runs `rounds` runs of 2…`maxChunks` chunks on a pool of `threads`, in batches of runs with
    /// nothing but the call between them, checked after each batch; the first failure described,
    /// or nil. Gives up after `timeout` (a lost chunk leaves `run` waiting forever).
    static func churn(threads: Int, spin: Int, rounds: Int, maxChunks: Int, seed: UInt64, timeout: TimeInterval) -> String? {
        final class Outcome: @unchecked Sendable {
            // Sendable: written by the churn thread before it signals, read after the wait.
            var failure: String?
        }
        let outcome = Outcome()
        let done = DispatchSemaphore(value: 0)
        let thread = Thread {
            let pool = ThreadPool(threads: threads)
            pool.setIdleSpin(spin)
            let batch = 4096
            let calls = UnsafeMutablePointer<Int32>.allocate(capacity: batch * slots)
            let counts = UnsafeMutablePointer<Int32>.allocate(capacity: batch * slots)
            let ledgers = UnsafeMutablePointer<Ledger>.allocate(capacity: batch)
            for b in 0..<batch { ledgers[b] = Ledger(calls: calls + b * slots, counts: counts + b * slots) }
            var rng = SplitMix(seed: seed)
            var chunks = [Int](repeating: 0, count: batch)
            var round = 0
            check: while round < rounds {
                for b in 0..<batch { chunks[b] = Int.random(in: 2...maxChunks, using: &rng) }
                calls.initialize(repeating: 0, count: batch * slots)
                counts.initialize(repeating: -1, count: batch * slots)
                chunks.withUnsafeBufferPointer { n in
                    for b in 0..<batch {
                        pool.run({ ctx, i, n in
                            let l = ctx!.assumingMemoryBound(to: Ledger.self).pointee
                            let slot = Int(i) % ThreadPoolChurnTests.slots
                            l.calls[slot] &+= 1
                            l.counts[slot] = n
                        }, ledgers + b, chunks: n[b])
                    }
                }
                for b in 0..<batch {
                    let n = chunks[b]
                    for s in 0..<slots where calls[b * slots + s] != (s < n ? 1 : 0) || (s < n && counts[b * slots + s] != Int32(n)) {
                        outcome.failure = "run \(round + b), \(n) chunks: chunk \(s) ran \(calls[b * slots + s]) times"
                            + (s < n ? ", with count \(counts[b * slots + s])" : "")
                        break check
                    }
                }
                round += batch
            }
            calls.deallocate()
            counts.deallocate()
            ledgers.deallocate()
            done.signal()
        }
        thread.start()
        if done.wait(timeout: .now() + timeout) == .timedOut {
            return "a run of \(threads) threads never returned within \(Int(timeout)) s (a chunk was lost)"
        }
        return outcome.failure
    }

    @Test(.serialized, arguments: [(2, 0), (3, 0), (3, 200), (4, ThreadPool.sharedIdleSpin)])
    func everyRunCallsEachOfItsChunksOnceWithItsOwnCount(threads: Int, spin: Int) {
        let failure = Self.churn(threads: threads, spin: spin, rounds: 400_000, maxChunks: 17, seed: UInt64(threads * 7919 + spin),
                                 timeout: 120)
        #expect(failure == nil, "\(threads) threads, idle spin \(spin): \(failure ?? "")")
    }
}
