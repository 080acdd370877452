import Foundation
import GGUF
import Kernels
import ServingTypes
import Testing
@testable import ModelRuntime
import SyntheticModels

/// The determinism contract with more than one thread per stage (DESIGN.md, "Determinism"): every
/// row of a sequence, computed on a multi-threaded model in one prefill, in chunks of any size, one
/// token at a time, or batched with other sequences' rows in any order, is bitwise the row a
/// one-thread model gives in one prefill. Repeated many times, because a race shows only in some
/// runs; runs alternate their schedules and batch mixes, which is what a serving stage does
/// (and what recomputing a sequence after a crash does to it).
@Suite struct ThreadDeterminismTests {
    /// A schedule of batches over several sequences: each step takes the next chunk (1…`maxChunk`
    /// tokens) of a random subset of the unfinished sequences, in a random order.
    static func schedule(lengths: [Int], maxChunk: Int, rng: inout SplitMix64) -> [[(sequence: Int, start: Int, count: Int)]] {
        var next = Array(repeating: 0, count: lengths.count)
        var steps: [[(sequence: Int, start: Int, count: Int)]] = []
        while next.indices.contains(where: { next[$0] < lengths[$0] }) {
            var open = next.indices.filter { next[$0] < lengths[$0] }
            open.shuffle(using: &rng)
            let taken = open.prefix(Int.random(in: 1...open.count, using: &rng))
            var step: [(sequence: Int, start: Int, count: Int)] = []
            for s in taken {
                let count = min(lengths[s] - next[s], Int.random(in: 1...maxChunk, using: &rng))
                step.append((s, next[s], count))
                next[s] += count
            }
            steps.append(step)
        }
        return steps
    }

    /// Runs `steps` on `model` for sequences `prompts` (new ids from `firstID`) and returns each
    /// sequence's output rows by position: hidden states, or logits when the range is the last.
    static func run(_ model: LayerRangeModel, prompts: [[Int32]], hidden: [[[Float]]]? = nil,
                    steps: [[(sequence: Int, start: Int, count: Int)]], firstID: Int) throws -> [[[Float]]] {
        let e = model.hyperparameters.embeddingLength
        var rows = prompts.map { Array(repeating: [Float](), count: $0.count) }
        for step in steps {
            let chunks = step.map {
                SequenceChunk(sequence: SequenceID(UInt64(firstID + $0.sequence)), startPosition: $0.start,
                              tokens: Array(prompts[$0.sequence][$0.start..<($0.start + $0.count)]), logits: .all)
            }
            let input = hidden.map { h in step.flatMap { s in (s.start..<(s.start + s.count)).flatMap { h[s.sequence][$0] } } }
            let out = try model.forward(chunks, hidden: input)
            if model.isLast {
                for (i, r) in out.logitRows.enumerated() { rows[step[r.chunk].sequence][r.position] = Array(out.logitRow(i)) }
            } else {
                var row = 0
                for s in step {
                    for p in s.start..<(s.start + s.count) {
                        rows[s.sequence][p] = Array(out.hidden[(row * e)..<((row + 1) * e)])
                        row += 1
                    }
                }
            }
        }
        for i in prompts.indices { model.free(SequenceID(UInt64(firstID + i))) }
        return rows
    }

    /// The first row whose bits differ from the reference, described; nil when all agree.
    static func firstDifference(_ got: [[[Float]]], _ reference: [[[Float]]]) -> String? {
        for s in reference.indices {
            for p in reference[s].indices {
                let a = got[s][p], b = reference[s][p]
                guard a.count == b.count else { return "sequence \(s) position \(p): \(a.count) values, expected \(b.count)" }
                if let i = a.indices.first(where: { a[$0].bitPattern != b[$0].bitPattern }) {
                    return "sequence \(s) position \(p) element \(i): \(a[i]) vs \(b[i])"
                }
            }
        }
        return nil
    }

    /// Random prompts of `lengths` tokens below `vocabulary`.
    static func prompts(_ lengths: [Int], vocabulary: Int, rng: inout SplitMix64) -> [[Int32]] {
        lengths.map { n in (0..<n).map { _ in Int32(Int.random(in: 1..<vocabulary, using: &rng)) } }
    }

    /// Every schedule on `threads` threads against one whole prefill per sequence on one thread.
    static func compare(_ file: GGUFFile, layers: Range<Int>? = nil, threads: Int, idleSpin: Int = ThreadPool.exclusiveIdleSpin,
                        lengths: [Int], maxChunk: Int, repeats: Int, seed: UInt64) throws -> String? {
        let one = try LayerRangeModel(file: file, layers: layers, threads: 1, logger: testLogger)
        let many = try LayerRangeModel(file: file, layers: layers, threads: threads, logger: testLogger)
        many.pool.setIdleSpin(idleSpin)
        var rng = SplitMix64(seed: seed)
        let prompts = Self.prompts(lengths, vocabulary: one.hyperparameters.vocabularySize, rng: &rng)
        // A middle range takes hidden states: random ones, the same for both models.
        let hidden: [[[Float]]]? = one.isFirst ? nil : prompts.map { p in
            p.map { _ in (0..<one.hyperparameters.embeddingLength).map { _ in Float.random(in: -2...2, using: &rng) } }
        }
        let whole = prompts.indices.map { [(sequence: $0, start: 0, count: prompts[$0].count)] }
        let reference = try run(one, prompts: prompts, hidden: hidden, steps: whole, firstID: 1)
        // The one-thread model in pieces as well: the contract holds there before threads matter.
        let pieces = schedule(lengths: lengths, maxChunk: maxChunk, rng: &rng)
        if let bad = firstDifference(try run(one, prompts: prompts, hidden: hidden, steps: pieces, firstID: 100), reference) {
            return "1 thread, chunked and batched: \(bad)"
        }
        var id = 1000
        for r in 0..<repeats {
            let steps = r % 4 == 0 ? whole : r % 4 == 1 ? prompts.indices.map { s in
                (0..<prompts[s].count).map { [(sequence: s, start: $0, count: 1)] }
            }.flatMap { $0 } : schedule(lengths: lengths, maxChunk: maxChunk, rng: &rng)
            let got = try run(many, prompts: prompts, hidden: hidden, steps: steps, firstID: id)
            id += prompts.count
            if let bad = firstDifference(got, reference) {
                return "\(threads) threads, repeat \(r) (\(r % 4 == 0 ? "whole prefills" : r % 4 == 1 ? "token by token" : "chunked, batched")): \(bad)"
            }
        }
        return nil
    }

    /// Runs `body` on a thread of its own and gives up after `seconds`: a pool that loses a chunk
    /// never returns from its run, and that must fail the test rather than hang it.
    static func withDeadline(_ seconds: TimeInterval, _ body: @escaping @Sendable () throws -> String?) -> String? {
        final class Outcome: @unchecked Sendable {
            // Sendable: written by the worker thread before it signals, read after the wait.
            var value: String?
        }
        let outcome = Outcome()
        let done = DispatchSemaphore(value: 0)
        let thread = Thread {
            do { outcome.value = try body() } catch { outcome.value = "\(error)" }
            done.signal()
        }
        thread.start()
        if done.wait(timeout: .now() + seconds) == .timedOut { return "no answer within \(Int(seconds)) s: a forward pass never returned" }
        return outcome.value
    }

    /// Two and three threads, with workers that stay awake between the operations of a forward
    /// pass (a stage that has its CPUs) and ones that sleep at once (stages sharing CPUs sleep
    /// after ~0.1 ms; sleeping workers wake late, which is when a pool's hand-over is tested).
    @Test(arguments: ["tiny-llama", "tiny-gemma3"])
    func syntheticModelsGiveOneThreadsBitsOnTwoAndThree(preset: String) throws {
        let path = try TestModels.path(preset)
        for (threads, spin) in [(2, ThreadPool.exclusiveIdleSpin), (2, 0), (3, ThreadPool.sharedIdleSpin)] {
            let bad = Self.withDeadline(300) {
                try Self.compare(try GGUFFile(path: path), threads: threads, idleSpin: spin, lengths: [29, 11, 3, 17], maxChunk: 9,
                                 repeats: 200, seed: UInt64(threads) &* 0x9E37 &+ UInt64(preset.count))
            }
            #expect(bad == nil, "\(preset), \(threads) threads, idle spin \(spin): \(bad ?? "")")
        }
    }

    /// The real Gemma 3 270M (Q4_K_M weights, 8-bit activations: the kernels a served stage runs):
    /// all layers but the last, compared as hidden states (no 262k-row logits to copy), then the
    /// last two layers with the head, compared as logits.
    @Test(.enabled(if: TestModels.realModelPath != nil, "demo model not fetched: run scripts/fetch-model or scripts/test"))
    func gemmaGivesOneThreadsBitsOnTwo() throws {
        let path = try #require(TestModels.realModelPath)
        let file = try GGUFFile(path: path)
        let n = try Hyperparameters(metadata: file.metadata, tensors: file.tensors).layerCount
        let body = Self.withDeadline(600) {
            try Self.compare(try GGUFFile(path: path), layers: 0..<(n - 1), threads: 2, idleSpin: 0, lengths: [21, 9, 14], maxChunk: 8,
                             repeats: 24, seed: 11)
        }
        #expect(body == nil, "layers 0..<\(n - 1): \(body ?? "")")
        let tail = Self.withDeadline(600) {
            try Self.compare(try GGUFFile(path: path), layers: (n - 2)..<n, threads: 2, idleSpin: 0, lengths: [7, 3, 5], maxChunk: 4,
                             repeats: 8, seed: 12)
        }
        #expect(tail == nil, "layers \(n - 2)..<\(n): \(tail ?? "")")
    }
}
