extension ThreadPool {
    /// Runs `body(lo, hi)` over shares of `[0, rows)`: on the pool's threads (the caller too) when
    /// there are at least `minRows` rows and more than one thread, else on the caller in one
    /// piece. For row-wise work — norms, rotations, residual adds, cache stores — whose results
    /// do not depend on how the rows are split. `body` runs concurrently with itself on disjoint
    /// shares, so it must write only its own rows.
    public func forEachShare(of rows: Int, minRows: Int = 8, _ body: (_ lo: Int, _ hi: Int) -> Void) {
        guard rows > 0 else { return }
        guard count > 1, rows >= minRows else { return body(0, rows) }
        withoutActuallyEscaping(body) { body in
            var job = ShareJob(rows: rows, body: body)
            withUnsafeMutablePointer(to: &job) { ptr in
                // A few chunks per thread: a thread that is descheduled leaves its rows to the others.
                run({ ctx, i, n in
                    let job = ctx!.assumingMemoryBound(to: ShareJob.self)
                    let (lo, hi) = ThreadPool.share(job.pointee.rows, Int(i), Int(n))
                    if lo < hi { job.pointee.body(lo, hi) }
                }, ptr, chunks: chunkCount(items: rows, minItems: max(1, minRows / 2), perThread: 4))
            }
        }
    }
}

/// The job `forEachShare` hands the pool.
private struct ShareJob {
    let rows: Int
    let body: (Int, Int) -> Void
}
