import ServingTypes
import Foundation

/// One-process generation over a `LayerRangeModel` covering all layers: prefill in chunks, then
/// decode token by token. Used by `pipeserve generate` and the model tests; the pipeline runs the
/// same forward call split across stages.
public struct Generator {
    public let model: LayerRangeModel
    /// Prompt tokens per prefill forward.
    public var prefillChunk: Int = 512

    public init(model: LayerRangeModel) { self.model = model }

    /// What a generation produced, with timings.
    public struct Result: Sendable {
        public var promptTokens: [Int32]
        public var tokens: [Int32]
        /// Logits at the last prompt position.
        public var promptLogits: [Float]
        public var prefillSeconds: Double
        public var decodeSeconds: Double
        /// Forward passes made after the prompt (one per generated token but the first).
        public var decodeSteps: Int
        /// Most KV cache bytes the sequence held at once (after the prompt or at the end).
        public var peakKVCacheBytes: Int = 0
        public var stoppedBy: StopReason
        /// Log-probability of each generated token (filled when `logprobs` is true).
        public var logprobs: [Float] = []
    }

    public enum StopReason: String, Sendable { case endOfGeneration = "stop", length }

    /// Generates up to `maxTokens` tokens after `prompt`. `stopTokens` end generation (the stop token
    /// is included in `tokens`). `onToken` sees each token as it is produced; returning false stops.
    public func generate(prompt: [Int32], maxTokens: Int, sampling: SamplingParameters, stopTokens: Set<Int32> = [],
                         sequence: SequenceID = SequenceID(0), logprobs: Bool = false,
                         onToken: (Int32) -> Bool = { _ in true }) throws -> Result {
        guard !prompt.isEmpty else { throw ModelRuntimeError.invalidBatch("empty prompt") }
        guard maxTokens >= 1 else { throw ModelRuntimeError.invalidBatch("max tokens must be ≥ 1, got \(maxTokens)") }
        let context = model.hyperparameters.contextLength
        guard prompt.count < context else {
            throw ModelRuntimeError.contextOverflow(sequence: sequence.rawValue, position: prompt.count, contextLength: context)
        }
        model.free(sequence)
        defer { model.free(sequence) }

        let t0 = DispatchTime.now().uptimeNanoseconds
        var logits: [Float] = []
        var pos = 0
        while pos < prompt.count {
            let n = min(prefillChunk, prompt.count - pos)
            let chunk = SequenceChunk(sequence: sequence, startPosition: pos, tokens: Array(prompt[pos..<(pos + n)]),
                                      logits: pos + n == prompt.count ? .last : .none)
            let out = try model.forward([chunk])
            if pos + n == prompt.count { logits = Array(out.logitRow(0)) }
            pos += n
        }
        let prefillBytes = model.kvCacheBytes
        let t1 = DispatchTime.now().uptimeNanoseconds
        var result = Result(promptTokens: prompt, tokens: [], promptLogits: logits, prefillSeconds: Double(t1 - t0) / 1e9,
                            decodeSeconds: 0, decodeSteps: 0, stoppedBy: .length)
        result.peakKVCacheBytes = prefillBytes
        var history = prompt
        var current = logits
        let limit = min(maxTokens, context - prompt.count)
        while true {
            let token = Sampler.sample(current[...], parameters: sampling, history: history, tokenIndex: result.tokens.count)
            result.tokens.append(token)
            if logprobs { result.logprobs.append(Sampler.logprobs(current[...], token: token, top: 0).0) }
            history.append(token)
            if !onToken(token) { break }
            if stopTokens.contains(token) { result.stoppedBy = .endOfGeneration; break }
            if result.tokens.count >= limit { break }
            let out = try model.forward([SequenceChunk(sequence: sequence, startPosition: pos, tokens: [token])])
            pos += 1
            result.decodeSteps += 1
            current = Array(out.logitRow(0))
        }
        result.decodeSeconds = Double(DispatchTime.now().uptimeNanoseconds - t1) / 1e9
        result.peakKVCacheBytes = max(result.peakKVCacheBytes, model.kvCacheBytes)
        return result
    }
}
