import ServingTypes
import GGUF
import Kernels
import Logging

/// Layers [start, end) of a model, with the KV caches of its sequences: the unit a pipeline stage
/// runs. It embeds only when start = 0 and applies the output norm and head only when
/// end = layerCount; the one-process `generate` path is the same object over [0, layerCount).
///
/// Not thread-safe: one caller drives it (a stage's forward loop); its pool runs the hot loops.
public final class LayerRangeModel: @unchecked Sendable {
    public let file: GGUFFile
    public let hyperparameters: Hyperparameters
    public let layerRange: Range<Int>
    public let pool: ThreadPool
    public let logger: Logger

    let layers: [LayerWeights]
    let embedding: WeightMatrix?
    let outputNorm: [Float]?
    let head: WeightMatrix?
    private var caches: [SequenceID: KVCache] = [:]
    /// Prefix-cache blocks of this range's layers.
    private lazy var blocks = KVBlockStore(kvDim: hyperparameters.kvDim, layerCount: layerRange.count)
    let scratch = Scratch()
    let rotary = RotaryTables()

    public var isFirst: Bool { layerRange.lowerBound == 0 }
    public var isLast: Bool { layerRange.upperBound == hyperparameters.layerCount }

    /// Maps the model's tensors for `layers` (default all).
    public init(file: GGUFFile, layers range: Range<Int>? = nil, threads: Int = 1, cpus: [Int]? = nil, logger: Logger) throws {
        let h = try Hyperparameters(metadata: file.metadata, tensors: file.tensors)
        let r = range ?? 0..<h.layerCount
        guard r.lowerBound >= 0, r.upperBound <= h.layerCount, !r.isEmpty else {
            throw ModelRuntimeError.invalidLayerRange(start: r.lowerBound, end: r.upperBound, layerCount: h.layerCount)
        }
        self.file = file
        self.hyperparameters = h
        self.layerRange = r
        self.logger = logger
        var layers = try r.map { try LayerWeights(file: file, layer: $0, hp: h) }
        let needsEmbedding = r.lowerBound == 0
        let last = r.upperBound == h.layerCount
        let embd = (needsEmbedding || (last && file.tensorInfo("output.weight") == nil))
            ? try WeightMatrix(file: file, name: "token_embd.weight", cols: h.embeddingLength) : nil
        if let embd, embd.rows != h.vocabularySize {
            throw ModelRuntimeError.tensorShape(tensor: "token_embd.weight", expected: [h.embeddingLength, h.vocabularySize],
                                                found: [embd.cols, embd.rows])
        }
        self.embedding = needsEmbedding ? embd : nil
        var head: WeightMatrix?
        if last {
            outputNorm = try loadVector(file, "output_norm.weight", count: h.embeddingLength)
            head = file.tensorInfo("output.weight") != nil
                ? try WeightMatrix(file: file, name: "output.weight", cols: h.embeddingLength, rows: h.vocabularySize)
                : embd  // tied output embedding
        } else {
            outputNorm = nil
        }
        WeightArena.place(layers: &layers, head: &head, file: file, logger: logger)
        self.layers = layers
        self.head = head
        self.pool = ThreadPool(threads: threads, cpus: cpus)
        logger.debug("model layers mapped", metadata: [
            "model.architecture": "\(h.architecture.rawValue)", "stage.layers": "\(r.lowerBound)..<\(r.upperBound)",
            "stage.threads": "\(pool.count)",
        ])
    }

    // MARK: - Sequences

    /// Number of positions cached for a sequence (0 if unknown).
    public func cachedLength(_ s: SequenceID) -> Int { caches[s]?.length ?? 0 }
    /// Sequences with a cache.
    public var sequenceCount: Int { caches.count }
    /// Bytes held by all KV caches of this range (sliding-window layers hold only their window,
    /// plus the rows of the chunk being computed).
    public var kvCacheBytes: Int { caches.values.reduce(0) { $0 + $1.bytes } }
    /// Frees a sequence's KV cache; unknown ids are ignored.
    public func free(_ s: SequenceID) { caches[s] = nil }
    /// Frees every sequence and every prefix-cache block.
    public func reset() {
        caches.removeAll()
        blocks.removeAll()
    }

    // MARK: - Prefix-cache blocks

    /// Prefix-cache blocks held, and their bytes (KV of every layer of the range, f32).
    public var blockCount: Int { blocks.count }
    public var blockBytes: Int { blocks.bytes }

    /// The names of `refs` this stage does not hold.
    public func missingBlocks(_ refs: [KVBlockRef]) -> [UInt64] {
        refs.filter { !blocks.contains($0.name) }.map(\.name)
    }

    /// Starts sequence `s` from copies of `refs`, which must be held and cover positions
    /// 0 ..< n in order, of a sequence that holds nothing yet. Throws without changing anything.
    public func restore(_ s: SequenceID, from refs: [KVBlockRef]) throws {
        guard !refs.isEmpty else { return }
        guard cachedLength(s) == 0 else {
            throw ModelRuntimeError.invalidBlock(sequence: s.rawValue, reason: "restoring blocks into a sequence that already holds \(cachedLength(s)) positions")
        }
        var held: [KVBlockStore.Block] = []
        var next = 0
        for r in refs {
            guard let b = blocks.block(r.name) else { throw ModelRuntimeError.blockMissing(name: r.name) }
            guard b.startPosition == next, b.startPosition == r.startPosition, b.count == r.count else {
                throw ModelRuntimeError.invalidBlock(sequence: s.rawValue, reason: "block \(String(r.name, radix: 16)) holds positions "
                    + "\(b.startPosition)..<\(b.startPosition + b.count), the batch expects \(r.startPosition)..<\(r.startPosition + r.count) after \(next)")
            }
            held.append(b)
            next += b.count
        }
        guard next <= hyperparameters.contextLength else {
            throw ModelRuntimeError.contextOverflow(sequence: s.rawValue, position: next - 1, contextLength: hyperparameters.contextLength)
        }
        let h = hyperparameters
        let cache = KVCache(kvDim: h.kvDim, windows: layerRange.map { h.layers[$0].slidingWindow })
        let size = held[0].count
        let store = blocks
        cache.restore(length: next) { l, p in
            // Blocks are contiguous and (all but perhaps none) of one size; find by arithmetic, then check.
            var i = min(p / max(1, size), held.count - 1)
            while held[i].startPosition > p { i -= 1 }
            while held[i].startPosition + held[i].count <= p { i += 1 }
            return store.rows(held[i], layer: l, position: p)
        }
        caches[s] = cache
    }

    /// Keeps a copy of sequence `s`'s KV at `ref`'s positions under its name (again: nothing).
    /// Throws when the sequence does not hold them all (a sliding-window layer dropped some).
    public func store(_ s: SequenceID, block ref: KVBlockRef) throws {
        guard let cache = caches[s], blocks.store(ref.name, from: cache, start: ref.startPosition, count: ref.count) else {
            throw ModelRuntimeError.invalidBlock(sequence: s.rawValue, reason: "cannot store block \(String(ref.name, radix: 16)): "
                + "positions \(ref.startPosition)..<\(ref.startPosition + ref.count) are not all held")
        }
    }

    /// Drops these blocks; names not held are ignored.
    public func dropBlocks(_ names: [UInt64]) { blocks.drop(names) }

    // MARK: - Forward

    /// Runs the range's layers on a batch of sequence chunks. `hidden` (tokens × n_embd) is the
    /// previous stage's output and must be given unless this range starts at layer 0.
    /// Validates the whole batch before touching any cache: on error nothing has changed.
    public func forward(_ chunks: [SequenceChunk], hidden: [Float]? = nil) throws -> ForwardOutput {
        let h = hyperparameters
        let e = h.embeddingLength
        guard !chunks.isEmpty else { throw ModelRuntimeError.invalidBatch("empty batch") }
        var seen = Set<SequenceID>()
        var total = 0
        for c in chunks {
            guard seen.insert(c.sequence).inserted else { throw ModelRuntimeError.invalidBatch("\(c.sequence) appears twice") }
            guard c.count >= 1 else { throw ModelRuntimeError.invalidBatch("\(c.sequence) has an empty chunk") }
            let cached = cachedLength(c.sequence)
            guard c.startPosition >= 0, c.startPosition <= cached else {
                throw ModelRuntimeError.positionGap(sequence: c.sequence.rawValue, expected: cached, got: c.startPosition)
            }
            if let cache = caches[c.sequence], !cache.canStart(at: c.startPosition) {
                throw ModelRuntimeError.positionDropped(sequence: c.sequence.rawValue, position: c.startPosition)
            }
            guard c.startPosition + c.count <= h.contextLength else {
                throw ModelRuntimeError.contextOverflow(sequence: c.sequence.rawValue, position: c.startPosition + c.count - 1,
                                                        contextLength: h.contextLength)
            }
            if isFirst {
                guard c.tokens.count == c.count else {
                    throw ModelRuntimeError.invalidBatch("\(c.sequence): the first stage needs \(c.count) token ids, got \(c.tokens.count)")
                }
                for t in c.tokens where t < 0 || Int(t) >= h.vocabularySize {
                    throw ModelRuntimeError.tokenOutOfRange(token: t, vocabularySize: h.vocabularySize)
                }
            }
            total += c.count
        }
        guard total <= 1 << 16 else { throw ModelRuntimeError.invalidBatch("\(total) tokens in one batch (limit 65536)") }
        if !isFirst {
            guard let hidden, hidden.count == total * e else {
                throw ModelRuntimeError.invalidBatch("expected \(total * e) hidden-state floats, got \(hidden?.count ?? 0)")
            }
        }

        // Positions per token row, and caches sized for the new positions.
        var positions = [Int](repeating: 0, count: total)
        var rowCache: [KVCache] = []
        rowCache.reserveCapacity(total)
        var row = 0
        for c in chunks {
            let cache = caches[c.sequence] ?? KVCache(kvDim: h.kvDim, windows: layerRange.map { h.layers[$0].slidingWindow })
            caches[c.sequence] = cache
            cache.prepare(start: c.startPosition, count: c.count)
            for i in 0..<c.count { positions[row] = c.startPosition + i; rowCache.append(cache); row += 1 }
        }

        let x = scratch.buffer(.x, total * e)
        if isFirst, let embedding {
            var r = 0
            for c in chunks {
                for t in c.tokens {
                    embedding.dequantizeRow(Int(t), into: x + r * e)
                    if h.embeddingScale != 1 { VectorMath.scale(x + r * e, by: h.embeddingScale, into: x + r * e, count: e) }
                    r += 1
                }
            }
        } else if let hidden {
            hidden.withUnsafeBufferPointer { x.update(from: $0.baseAddress!, count: total * e) }
        }

        rotary.prepare(layerFrequencies: h.layers[layerRange].lazy.map(\.ropeInverseFrequencies), positions: positions,
                       ropeDimensions: h.ropeDimensions)
        for (li, w) in layers.enumerated() {
            runLayer(w, style: h.layers[layerRange.lowerBound + li], localIndex: li, x: x, rows: total,
                     positions: positions, caches: rowCache, rotary: rotary)
        }

        var out = ForwardOutput(hidden: [], logits: [], logitRows: [], vocabularySize: h.vocabularySize)
        guard isLast, let head, let outputNorm else {
            out.hidden = Array(UnsafeBufferPointer(start: x, count: total * e))
            return out
        }
        // Rows that need logits.
        var rows: [Int] = []
        row = 0
        for (ci, c) in chunks.enumerated() {
            for i in 0..<c.count {
                if c.logits == .all || (c.logits == .last && i == c.count - 1) {
                    rows.append(row)
                    out.logitRows.append((chunk: ci, position: c.startPosition + i))
                }
                row += 1
            }
        }
        guard !rows.isEmpty else { return out }
        let normed = scratch.buffer(.h, rows.count * e)
        outputNorm.withUnsafeBufferPointer { nw in
            for (k, r) in rows.enumerated() {
                VectorMath.rmsNorm(x + r * e, stride: e, weight: nw.baseAddress!, into: normed + k * e, stride: e, rows: 1, count: e,
                                   epsilon: h.rmsEpsilon)
            }
        }
        // The head writes every element: no zero-fill of the vocabulary-sized rows first (1 MB a
        // token on Gemma's 262k vocabulary).
        let count = rows.count * h.vocabularySize
        out.logits = [Float](unsafeUninitializedCapacity: count) { lp, initialized in
            head.multiply(normed, batch: rows.count, into: lp.baseAddress!, yStride: h.vocabularySize, pool: pool, scratch: scratch)
            if h.finalLogitSoftcap > 0 {
                let cap = h.finalLogitSoftcap
                for i in 0..<count { lp[i] = cap * tanhf(lp[i] / cap) }
            }
            initialized = count
        }
        return out
    }
}

#if canImport(Glibc)
import Glibc
#endif
