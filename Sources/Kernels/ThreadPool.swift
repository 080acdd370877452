import CKernels

/// A stage's persistent compute threads (the calling thread is worker 0). Hot loops run here,
/// never on the Swift concurrency pool.
public final class ThreadPool: @unchecked Sendable {
    // Sendable: the C pool is only driven from one thread at a time (the stage's forward loop);
    // `run` is not reentrant and callers serialize on the model that owns the pool.
    @usableFromInline let pool: OpaquePointer?
    /// Number of threads including the caller.
    public let count: Int

    /// The work of one chunk: `task(context, index, count)` computes chunk `index` of `count`. A C
    /// function pointer (a closure literal that captures nothing), which the pool's threads call
    /// directly; the job's data travels in `context`.
    public typealias Task = @convention(c) (_ context: UnsafeMutableRawPointer?, _ index: Int32, _ count: Int32) -> Void

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

    /// Pause iterations an idle worker spins before sleeping when its CPUs are its own (about a
    /// millisecond: the next operation of a forward pass finds the workers awake).
    public static let exclusiveIdleSpin = Int(PS_POOL_DEFAULT_IDLE_SPIN)
    /// The same when other stages' threads share these CPUs: long enough to stay awake between
    /// the operations of one forward pass (~0.1 ms), short enough not to take a core from the
    /// stage that computes next.
    public static let sharedIdleSpin = 2000

    /// Sets how long idle workers spin before they sleep (`exclusiveIdleSpin` by default).
    public func setIdleSpin(_ spins: Int) { ps_pool_set_idle_spin(pool, Int32(clamping: spins)) }

    /// Runs `task(context, i, chunks)` for every chunk i on whichever threads take it (the caller
    /// too) and returns when all are done. A chunk's result must not depend on the thread that runs it.
    @inlinable
    public func run(_ task: Task, _ context: UnsafeMutableRawPointer, chunks: Int) {
        ps_pool_run(pool, task, context, Int32(chunks))
    }

    /// A chunk count for `items` work items: `perThread` chunks per thread so a descheduled
    /// thread's share is picked up by the others, and at least `minItems` items per chunk.
    @inlinable
    public func chunkCount(items: Int, minItems: Int, perThread: Int = 8) -> Int {
        max(1, min(items / max(1, minItems), max(1, perThread) * count))
    }

    /// The half-open share `[lo, hi)` of `total` items for chunk `index` of `count`.
    @inlinable @inline(__always)
    public static func share(_ total: Int, _ index: Int, _ count: Int) -> (Int, Int) {
        (total * index / count, total * (index + 1) / count)
    }
}
