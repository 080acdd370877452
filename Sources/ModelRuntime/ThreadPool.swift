import CKernels

/// A stage's persistent compute threads (the calling thread is worker 0). Hot loops run here,
/// never on the Swift concurrency pool.
public final class ThreadPool: @unchecked Sendable {
    // Sendable: the C pool is only driven from one thread at a time (the stage's forward loop);
    // `run` is not reentrant and callers serialize on the model that owns the pool.
    let pool: OpaquePointer?
    /// Number of threads including the caller.
    public let count: Int

    /// - Parameters:
    ///   - threads: total threads (≥ 1), including the calling thread.
    ///   - cpus: optional CPU ids to pin workers 1…n-1 to (index i for worker i).
    public init(threads: Int, cpus: [Int]? = nil) {
        let n = max(1, threads)
        if let cpus, cpus.count >= n {
            let c = cpus.prefix(n).map { Int32($0) }
            pool = c.withUnsafeBufferPointer { ps_pool_create(Int32(n), $0.baseAddress) }
        } else {
            pool = ps_pool_create(Int32(n), nil)
        }
        count = Int(ps_pool_size(pool))
    }

    deinit { ps_pool_destroy(pool) }

    /// Runs `fn(ctx, i, n)` on every thread and returns when all are done.
    func run(_ fn: ps_task_fn, _ ctx: UnsafeMutableRawPointer) {
        ps_pool_run(pool, fn, ctx)
    }

    /// The half-open share `[lo, hi)` of `total` items for worker `index` of `count`.
    @inline(__always)
    static func share(_ total: Int, _ index: Int, _ count: Int) -> (Int, Int) {
        (total * index / count, total * (index + 1) / count)
    }
}
