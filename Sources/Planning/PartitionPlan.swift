import GGUF
import ModelRuntime

/// How a model's layers are split into contiguous stages, with the estimated cost of each stage.
///
/// The cost model estimates each stage's time per token of a `PartitionWorkload`: weight bytes
/// read once per micro-batch (memory bound) plus multiply-adds per row (compute bound), with the
/// token embedding on the first stage (one row read per token: negligible) and the output norm +
/// head on the last, computed for every decode row but for only one row per prompt in prefill (on
/// Gemma 3 270M the 262k-row head costs more than all 18 layers together in a decode step).
public struct PartitionPlan: Sendable, Equatable {
    public struct Stage: Sendable, Equatable {
        public var index: Int
        public var layers: Range<Int>
        /// Parameters (elements) of the tensors this stage computes with.
        public var parameters: Int
        /// Bytes of those tensors in the file.
        public var bytes: Int
        /// Estimated seconds per token of the workload the plan was made for.
        public var cost: Double
        public var hasEmbedding: Bool
        public var hasHead: Bool
    }

    public var stages: [Stage]
    /// The traffic the costs are estimated for.
    public var workload: PartitionWorkload

    /// Share of the total estimated work per stage.
    public var shares: [Double] {
        let total = stages.reduce(0) { $0 + $1.cost }
        return stages.map { total > 0 ? $0.cost / total : 0 }
    }

    /// Pipeline efficiency with equal micro-batches: mean stage cost / max stage cost (1 = balanced).
    public var efficiency: Double {
        guard let worst = stages.map(\.cost).max(), worst > 0 else { return 1 }
        return stages.reduce(0) { $0 + $1.cost } / Double(stages.count) / worst
    }

    /// Layer counts per stage (the form `pipeline.layers` takes).
    public var layerCounts: [Int] { stages.map(\.layers.count) }
}

/// Errors of partitioning; each says what is wrong with the request.
public enum PartitionError: Error, CustomStringConvertible, Equatable, Sendable {
    case badStageCount(stages: Int, layers: Int)
    case countsLengthMismatch(counts: [Int], stages: Int)
    case countsSumMismatch(counts: [Int], layers: Int)
    case emptyStage(counts: [Int], stage: Int)

    public var description: String {
        switch self {
        case let .badStageCount(s, l): return "cannot split \(l) layers into \(s) stages (need 1 ≤ stages ≤ layers)"
        case let .countsLengthMismatch(c, s): return "layers \(c) lists \(c.count) stages but stages is \(s)"
        case let .countsSumMismatch(c, l): return "layers \(c) sums to \(c.reduce(0, +)) but the model has \(l) layers"
        case let .emptyStage(c, s): return "layers \(c) gives stage \(s) fewer than 1 layer"
        }
    }
}

/// Estimates per-layer costs from tensor shapes and types, and splits layers into stages.
public struct PartitionPlanner: Sendable {
    /// Per-layer (parameters, bytes) and the extra tensors of the first and last stage.
    public let layerParameters: [Int]
    public let layerBytes: [Int]
    public let embeddingBytesPerToken: Int
    public let headParameters: Int
    public let headBytes: Int
    /// Assumed memory read bandwidth (bytes/s) and multiply-add rate (per s) of one stage.
    public var bandwidth: Double = 20e9
    public var macRate: Double = 15e9

    public init(file: GGUFFile, hyperparameters h: Hyperparameters) {
        var params = [Int](repeating: 0, count: h.layerCount)
        var bytes = [Int](repeating: 0, count: h.layerCount)
        for t in file.tensors where t.name.hasPrefix("blk.") {
            let parts = t.name.split(separator: ".")
            if parts.count > 2, let il = Int(parts[1]), il >= 0, il < h.layerCount {
                params[il] += t.elementCount
                bytes[il] += t.byteCount
            }
        }
        layerParameters = params
        layerBytes = bytes
        let embd = file.tensorInfo("token_embd.weight")
        embeddingBytesPerToken = embd.map { $0.rowBytes } ?? 0
        let head = file.tensorInfo("output.weight") ?? embd
        let norm = file.tensorInfo("output_norm.weight")
        headParameters = (head?.elementCount ?? 0) + (norm?.elementCount ?? 0)
        headBytes = (head?.byteCount ?? 0) + (norm?.byteCount ?? 0)
    }

    /// For tests: a planner over given per-layer and head costs.
    public init(layerParameters: [Int], layerBytes: [Int], headParameters: Int, headBytes: Int, embeddingBytesPerToken: Int = 0) {
        self.layerParameters = layerParameters
        self.layerBytes = layerBytes
        self.headParameters = headParameters
        self.headBytes = headBytes
        self.embeddingBytesPerToken = embeddingBytesPerToken
    }

    var layerCount: Int { layerParameters.count }

    /// Seconds per workload token of a tensor group whose weights are read once per micro-batch and
    /// whose multiply-adds are done for every row of it.
    func layerCost(params: Int, bytes: Int, _ w: PartitionWorkload) -> Double {
        let b = Double(bytes) / bandwidth, m = Double(params) / macRate
        let prefill = b / Double(w.prefillRows) + m
        let decode = b / Double(w.decodeRows) + m
        return w.prefillShare * prefill + (1 - w.prefillShare) * decode
    }

    /// Seconds per workload token of the output norm and head: every decode row, one row per prompt.
    func headCost(_ w: PartitionWorkload) -> Double {
        let b = Double(headBytes) / bandwidth, m = Double(headParameters) / macRate
        let prefill = b / Double(w.prefillTokensPerHeadRead) + (w.promptTokens > 0 ? m / Double(w.promptTokens) : 0)
        let decode = b / Double(w.decodeRows) + m
        return w.prefillShare * prefill + (1 - w.prefillShare) * decode
    }

    /// Seconds per token of the embedding lookup (one row read per token).
    var embeddingCost: Double { Double(embeddingBytesPerToken) / bandwidth }

    func layerCost(_ il: Int, _ w: PartitionWorkload) -> Double { layerCost(params: layerParameters[il], bytes: layerBytes[il], w) }

    /// The plan for explicit layer counts (validated: length = stages, sum = layers, each ≥ 1),
    /// its costs estimated for `workload`.
    public func plan(counts: [Int], stages: Int? = nil, workload: PartitionWorkload = .decodeStep) throws(PartitionError) -> PartitionPlan {
        if let stages, counts.count != stages { throw .countsLengthMismatch(counts: counts, stages: stages) }
        guard counts.reduce(0, +) == layerCount else { throw .countsSumMismatch(counts: counts, layers: layerCount) }
        if let bad = counts.firstIndex(where: { $0 < 1 }) { throw .emptyStage(counts: counts, stage: bad) }
        var start = 0
        var out: [PartitionPlan.Stage] = []
        for (i, n) in counts.enumerated() {
            let r = start..<(start + n)
            var p = r.reduce(0) { $0 + layerParameters[$1] }
            var b = r.reduce(0) { $0 + layerBytes[$1] }
            var c = r.reduce(0.0) { $0 + layerCost($1, workload) }
            let first = i == 0, last = i == counts.count - 1
            if first { b += embeddingBytesPerToken; c += embeddingCost }
            if last { p += headParameters; b += headBytes; c += headCost(workload) }
            out.append(.init(index: i, layers: r, parameters: p, bytes: b, cost: c, hasEmbedding: first, hasHead: last))
            start += n
        }
        return PartitionPlan(stages: out, workload: workload)
    }

    /// The contiguous split into `stages` stages that minimises the most expensive stage for
    /// `workload` (ties: the earliest such split). Exact dynamic programme, O(stages × layers²).
    public func balanced(stages: Int, workload: PartitionWorkload = .decodeStep) throws(PartitionError) -> PartitionPlan {
        let n = layerCount
        guard stages >= 1, stages <= n else { throw .badStageCount(stages: stages, layers: n) }
        var prefix = [0.0]
        for il in 0..<n { prefix.append(prefix[il] + layerCost(il, workload)) }
        let head = headCost(workload)
        let embd = embeddingCost
        func stageCost(_ a: Int, _ b: Int, first: Bool, last: Bool) -> Double {
            prefix[b] - prefix[a] + (first ? embd : 0) + (last ? head : 0)
        }
        // best[s][j]: minimal bottleneck for layers [0, j) in s stages; cut[s][j] the start of stage s-1.
        var best = [[Double]](repeating: [Double](repeating: .infinity, count: n + 1), count: stages + 1)
        var cut = [[Int]](repeating: [Int](repeating: 0, count: n + 1), count: stages + 1)
        best[0][0] = 0
        for s in 1...stages {
            for j in s...n {
                for i in (s - 1)..<j where best[s - 1][i] < .infinity {
                    let c = max(best[s - 1][i], stageCost(i, j, first: s == 1, last: s == stages && j == n))
                    if c < best[s][j] - 1e-15 { best[s][j] = c; cut[s][j] = i }
                }
            }
        }
        var counts = [Int](repeating: 0, count: stages)
        var j = n
        for s in stride(from: stages, through: 1, by: -1) {
            let i = cut[s][j]
            counts[s - 1] = j - i
            j = i
        }
        return try plan(counts: counts, workload: workload)
    }
}
