import Constraints
import Dispatch
import Foundation
import ModelRuntime
import ServingTypes
import StageWorker
import Tokenization

extension Generate {
    /// The constraint the flags ask for, checked as the HTTP layer checks one (compiled once, so a
    /// bad schema or grammar is refused here with the flag, the file and the spot named).
    func outputConstraint() throws -> OutputConstraint? {
        let constraint: OutputConstraint
        let flag: String
        if jsonObject {
            return .jsonObject
        } else if let path = jsonSchema {
            flag = "--json-schema \(path)"
            constraint = .jsonSchema(schema: try Self.readConstraintFile(path, flag: "--json-schema"), strict: strict)
        } else if let path = grammar {
            flag = "--grammar \(path)"
            constraint = .grammar(try Self.readConstraintFile(path, flag: "--grammar"))
        } else {
            return nil
        }
        do { _ = try ConstraintCompiler.compile(constraint) } catch { throw CLIError("\(flag): \(error)") }
        return constraint
    }

    static func readConstraintFile(_ path: String, flag: String) throws -> String {
        guard let data = FileManager.default.contents(atPath: path) else { throw CLIError("cannot read \(flag) \(path)") }
        guard let text = String(validating: data, as: UTF8.self) else {
            throw CLIError("\(flag) \(path) is not valid UTF-8 (first bad byte at offset \(firstInvalidUTF8Offset(Array(data))))")
        }
        return text
    }

    /// One constrained generation in this process: the stage engine over every layer samples
    /// under the constraint exactly as a pipeline's last stage does (same masks, same tokens).
    func runConstrained(runtime: LayerRangeModel, tokenizer: Tokenizer, prompt: [Int32], sampling: SamplingParameters,
                        stops: Set<Int32>, constraint: OutputConstraint, onToken: (Int32) -> Void) throws -> Outcome {
        let engine = StageEngine(model: runtime, vocabulary: {
            let bytes = (0 ..< Int32(tokenizer.vocabularySize)).map { tokenizer.tokenBytes($0) }
            return TokenVocabulary(tokenBytes: bytes, endOfGeneration: tokenizer.eogIDs)
        })
        let sequence = SequenceID(1)
        defer { engine.free([sequence]) }
        let limit = min(maxTokens, runtime.hyperparameters.contextLength - prompt.count)
        var tokens: [Int32] = []
        var logprobValues: [Float] = []
        var finish = "length"
        var decodeSteps = 0
        var peakKV = 0
        func step(_ start: Int, _ chunk: [Int32], last: Bool, first: Bool) throws -> StageEngine.Sample? {
            let entry = StageEngine.Entry(
                sequence: sequence, startPosition: start, count: chunk.count, logits: last ? .last : .none, tokens: chunk,
                sampling: sampling, tokenIndex: tokens.count, wantLogprob: logprobs,
                constraint: first ? StageConstraint(constraint: constraint, promptLength: prompt.count, ignoresEOS: stops.isEmpty) : nil)
            let output: StageEngine.Output
            do { output = try engine.run([entry], hidden: nil) } catch { throw CLIError("generation failed: \(error)") }
            peakKV = max(peakKV, runtime.kvCacheBytes)
            guard case .samples(let samples) = output else { return nil }
            return samples.first
        }
        let started = DispatchTime.now().uptimeNanoseconds
        var sample: StageEngine.Sample?
        var position = 0
        while position < prompt.count {
            let n = min(batchSize, prompt.count - position)
            sample = try step(position, Array(prompt[position ..< position + n]), last: position + n == prompt.count, first: position == 0)
            position += n
        }
        let prefilled = DispatchTime.now().uptimeNanoseconds
        while let s = sample {
            tokens.append(s.token)
            if logprobs { logprobValues.append(s.logprob ?? .nan) }
            onToken(s.token)
            if s.constraintDead { break }  // nothing may follow: the output is incomplete
            if stops.contains(s.token) { finish = "stop"; break }
            if tokens.count >= limit { break }
            sample = try step(position, [s.token], last: true, first: false)
            position += 1
            decodeSteps += 1
        }
        let done = DispatchTime.now().uptimeNanoseconds
        return Outcome(tokens: tokens, logprobs: logprobValues, prefillSeconds: Double(prefilled - started) / 1e9,
                       decodeSeconds: Double(done - prefilled) / 1e9, decodeSteps: decodeSteps, finishReason: finish,
                       threads: runtime.pool.count, kvCacheBytes: peakKV)
    }
}
