import Foundation
import GGUF
import ServingTypes
import Testing
import WireProtocol
@testable import Coordinator
@testable import ModelRuntime

/// The pipeline's central promise: the same tokens, and the same logits bit for bit (checked
/// through each token's logprob), whatever the number of stages and the partition.
@Suite(.serialized) struct PipelineEquivalenceTests {
    let prompt: [Int32] = [1, 40, 41, 300, 7, 260, 261, 262, 263, 264, 265]

    /// One greedy or seeded sequence that runs to `maxTokens`, with each token's logprob.
    static func request(_ prompt: [Int32], maxTokens: Int, sampling: SamplingParameters) -> PipelineEngine.Request {
        PipelineEngine.Request(id: SequenceID(1), prompt: prompt, stop: StopConditions(maxTokens: maxTokens, ignoreEOS: true),
                               sampling: sampling, topLogprobs: 1)
    }

    func inProcess(_ model: String, sampling: SamplingParameters, maxTokens: Int) throws -> ([Int32], [Float]) {
        let m = try LayerRangeModel(file: try GGUFFile(path: model), logger: ringLogger)
        let r = try Generator(model: m).generate(prompt: prompt, maxTokens: maxTokens, sampling: sampling, logprobs: true)
        return (r.tokens, r.logprobs)
    }

    @Test(arguments: ["tiny-gemma3", "tiny-llama"])
    func everyStageCountAndPartitionGivesIdenticalResults(preset: String) throws {
        let model = try Ring.model(preset)
        var seeded = SamplingParameters()
        seeded.temperature = 0.9
        seeded.topK = 40
        seeded.seed = 1234
        seeded.repetitionPenalty = 1.1
        let layers = try Hyperparameters(metadata: try GGUFFile(path: model).metadata, tensors: []).layerCount
        for sampling in [SamplingParameters.greedy, seeded] {
            let (refTokens, refLogprobs) = try inProcess(model, sampling: sampling, maxTokens: 12)
            var partitions: [[Int]] = (1...4).map { s in Ring.splits(layers, s).first! }
            partitions += [Ring.splits(layers, 2).last!, Ring.splits(layers, 3)[1]]
            for counts in partitions {
                // Prefill chunks of 4 tokens in as many micro-batches as stages: several in flight at once.
                let engine = try PipelineEngineTests.engine(model, counts: counts, microBatches: counts.count, maxBatchTokens: 4)
                defer { engine.stop() }
                let r = try engine.runOne(Self.request(prompt, maxTokens: 12, sampling: sampling))
                #expect(r.tokens == refTokens, "\(preset) \(counts) temperature \(sampling.temperature)")
                #expect(r.logprobs.map(\.bitPattern) == refLogprobs.map(\.bitPattern), "\(preset) \(counts): logits differ")
                let compute = engine.snapshot.stageComputeNanoseconds
                #expect(compute.count == counts.count && compute.allSatisfy { $0 > 0 })
            }
        }
    }

    @Test(.enabled(if: ProcessInfo.processInfo.environment["PIPESERVE_MODEL"] != nil
                   || FileManager.default.fileExists(atPath: NSHomeDirectory() + "/.cache/pipeserve/models/gemma-3-270m-q4_k_m.gguf")))
    func realGemmaThroughOneToFourStages() throws {
        let model = ProcessInfo.processInfo.environment["PIPESERVE_MODEL"]
            ?? NSHomeDirectory() + "/.cache/pipeserve/models/gemma-3-270m-q4_k_m.gguf"
        let prompt: [Int32] = [2, 818, 5279, 529, 7001, 563]
        let m = try LayerRangeModel(file: try GGUFFile(path: model), logger: ringLogger)
        let ref = try Generator(model: m).generate(prompt: prompt, maxTokens: 8, sampling: .greedy, logprobs: true)
        for counts in [[18], [9, 9], [17, 1], [6, 6, 6], [5, 5, 4, 4]] {
            let engine = try PipelineEngineTests.engine(model, counts: counts, microBatches: counts.count, maxBatchTokens: 512,
                                                        contextLength: 512)
            defer { engine.stop() }
            let r = try engine.runOne(Self.request(prompt, maxTokens: 8, sampling: .greedy))
            #expect(r.tokens == ref.tokens, "\(counts)")
            #expect(r.logprobs.map(\.bitPattern) == ref.logprobs.map(\.bitPattern), "\(counts)")
        }
    }
}
