import Kernels
import Testing
@testable import ModelRuntime

/// How attention's (row × head) pairs are split among threads: never finer than the heads of a kv
/// group that one thread's share allows, so one decode row does not make every thread re-read the
/// same cached keys and values per head.
@Suite struct AttentionChunkTests {
    /// Heads in each chunk of one row.
    func headsPerChunk(heads: Int, kvHeads: Int, threads: Int) -> [Int] {
        let n = LayerRangeModel.attentionChunks(rows: 1, heads: heads, kvHeads: kvHeads, threads: threads)
        return (0..<n).map { i in let (lo, hi) = ThreadPool.share(heads, i, n); return hi - lo }
    }

    @Test func decodeRowsSplitByKVGroup() {
        #expect(LayerRangeModel.attentionChunks(rows: 1, heads: 4, kvHeads: 1, threads: 1) == 1)
        #expect(headsPerChunk(heads: 4, kvHeads: 1, threads: 2) == [2, 2])        // Gemma 3 270M
        #expect(headsPerChunk(heads: 32, kvHeads: 4, threads: 2) == [8, 8, 8, 8])  // TinyLlama: a group each
        #expect(headsPerChunk(heads: 4, kvHeads: 1, threads: 4) == [1, 1, 1, 1])  // as many threads as heads
        #expect(headsPerChunk(heads: 8, kvHeads: 8, threads: 2).allSatisfy { $0 == 1 })  // no sharing to keep
    }

    @Test func batchesKeepEveryThreadBusy() {
        // 16 rows of Gemma on 2 threads: 16 chunks of one row's 4 heads each.
        let n = LayerRangeModel.attentionChunks(rows: 16, heads: 4, kvHeads: 1, threads: 2)
        #expect(n == 16)
        #expect((0..<n).allSatisfy { let (lo, hi) = ThreadPool.share(64, $0, n); return hi - lo == 4 })
        for rows in 1...20 {
            for threads in 2...4 {
                let n = LayerRangeModel.attentionChunks(rows: rows, heads: 4, kvHeads: 1, threads: threads)
                #expect(n >= 1 && n <= 8 * threads && n <= rows * 4)
            }
        }
    }
}
