import ArgumentParser
import Foundation
import Serving
import GGUF
import Logging
import ModelRuntime
import ServingTypes
import SyntheticModels
import Tokenization

/// `pipeserve generate`: one prompt through the whole model in this process, streamed to stdout.
struct Generate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Generate text from a prompt in one process (no pipeline), streaming it as it is produced.",
        discussion: """
            Prints the generated text as it is produced, then a line with prompt and generation speed.
            With --json prints one object instead: {"prompt_tokens": [...], "tokens": [...], "text": "...", \
            "prompt_tokens_per_second": ..., "generated_tokens_per_second": ..., "kv_cache_bytes": ...}.
            --json-schema, --json-object and --grammar constrain the output as the HTTP API's \
            response_format and grammar do (the same sampler masks, in-process or on the last stage).
            """)

    @Option(help: "Path of the GGUF model.") var model: String
    @Option(help: "Prompt text.") var prompt: String?
    @Option(help: "Read the prompt from a file (UTF-8).") var promptFile: String?
    @Option(help: "Prompt as comma-separated token ids (used as given: no BOS is added).") var promptTokens: String?
    @Option(help: "Use N random token ids as the prompt (for benchmarks).") var randomPromptTokens: Int?
    @Option(help: "Maximum number of tokens to generate (≥ 1).") var maxTokens: Int = 128
    @Option(help: "Sampling temperature; 0 = greedy.") var temperature: Float = 0
    @Option(help: "Top-k (0 = off).") var topK: Int = 0
    @Option(help: "Top-p (1 = off).") var topP: Float = 1
    @Option(help: "Min-p (0 = off).") var minP: Float = 0
    @Option(help: "Repetition penalty (1 = off).") var repetitionPenalty: Float = 1
    @Option(help: "Random seed.") var seed: UInt64 = 0
    @Option(help: "Compute threads.") var threads: Int = 1
    @Option(help: "Prompt tokens per prefill forward pass.") var batchSize: Int = 512
    @Option(help: "Run through N stage processes (a pipeline) instead of in this process.") var stages: Int?
    @Option(help: "Layer counts per stage, e.g. 10,8 (default: balanced by estimated cost).") var layers: String?
    @Option(help: "Activation dtype between stages: f32, f16, bf16.") var activationDtype: String = "f32"
    @Option(help: "Stage placement with --stages: off, auto (spread over NUMA nodes; on one node, pin CPUs), or node ids like 0,1.")
    var numa: String = "off"
    @Flag(help: "Include each generated token's log-probability in the JSON output.") var logprobs = false
    @Flag(help: "Keep generating after an end-of-generation token.") var ignoreEos = false
    @Flag(help: "Treat special-token text in the prompt (e.g. <start_of_turn>) as those tokens.") var parseSpecial = false
    @Flag(help: "Print one JSON object instead of streaming text.") var json = false
    @Option(help: ArgumentHelp("Constrain the output to a JSON document valid against the JSON Schema in FILE.", valueName: "FILE"))
    var jsonSchema: String?
    @Flag(help: "With --json-schema: refuse schema keywords the constraint cannot enforce (OpenAI's strict: true).")
    var strict = false
    @Flag(help: "Constrain the output to a JSON object.") var jsonObject = false
    @Option(help: ArgumentHelp("Constrain the output to the GBNF grammar in FILE (llama.cpp's format; its root rule).", valueName: "FILE"))
    var grammar: String?
    @Option(help: "Log level (trace, debug, info, notice, warning, error).") var logLevel: String = "warning"

    func validate() throws {
        guard maxTokens >= 1 else { throw ValidationError("--max-tokens must be ≥ 1 (got \(maxTokens))") }
        guard threads >= 1 && threads <= 1024 else { throw ValidationError("--threads must be between 1 and 1024 (got \(threads))") }
        guard batchSize >= 1 else { throw ValidationError("--batch-size must be ≥ 1 (got \(batchSize))") }
        guard temperature >= 0 else { throw ValidationError("--temperature must be ≥ 0 (got \(temperature))") }
        guard topK >= 0 else { throw ValidationError("--top-k must be ≥ 0 (got \(topK))") }
        guard topP > 0 && topP <= 1 else { throw ValidationError("--top-p must be in (0, 1] (got \(topP))") }
        guard minP >= 0 && minP <= 1 else { throw ValidationError("--min-p must be in [0, 1] (got \(minP))") }
        guard repetitionPenalty > 0 else { throw ValidationError("--repetition-penalty must be > 0 (got \(repetitionPenalty))") }
        let sources = [prompt != nil, promptFile != nil, promptTokens != nil, randomPromptTokens != nil].filter { $0 }.count
        guard sources == 1 else {
            throw ValidationError("give exactly one of --prompt, --prompt-file, --prompt-tokens, --random-prompt-tokens")
        }
        if let n = randomPromptTokens, n < 1 { throw ValidationError("--random-prompt-tokens must be ≥ 1 (got \(n))") }
        guard [jsonSchema != nil, jsonObject, grammar != nil].filter({ $0 }).count <= 1 else {
            throw ValidationError("give at most one of --json-schema, --json-object, --grammar")
        }
        if strict && jsonSchema == nil { throw ValidationError("--strict needs --json-schema") }
        if let stages, stages < 1 || stages > 64 { throw ValidationError("--stages must be between 1 and 64 (got \(stages))") }
        if layers != nil && stages == nil { throw ValidationError("--layers needs --stages") }
        guard ["f32", "f16", "bf16"].contains(activationDtype) else {
            throw ValidationError("--activation-dtype must be f32, f16 or bf16 (got \(activationDtype))")
        }
        guard Logger.Level(rawValue: logLevel) != nil else { throw ValidationError("unknown --log-level \(logLevel)") }
    }

    func run() throws {
        try requireUTF8Arguments()
        let logger = makeLogger(level: logLevel)
        let loaded: LoadedModel
        do { loaded = try LoadedModel(path: model) } catch { throw CLIError("\(error)") }
        let (file, hyper, tokenizer) = (loaded.file, loaded.hyperparameters, loaded.tokenizer)

        let constraint = try outputConstraint()
        let promptIDs = try promptTokenIDs(tokenizer: tokenizer, vocabularySize: hyper.vocabularySize)
        let context = hyper.contextLength
        guard promptIDs.count < context else {
            throw CLIError("prompt has \(promptIDs.count) tokens, more than the model's context of \(context) allows (at most \(context - 1))")
        }
        var sampling = SamplingParameters()
        sampling.temperature = temperature
        sampling.topK = topK
        sampling.topP = topP
        sampling.minP = minP
        sampling.repetitionPenalty = repetitionPenalty
        sampling.seed = seed

        let stops = ignoreEos ? [] : tokenizer.eogIDs
        let printer = TokenPrinter(tokenizer: tokenizer, stops: stops, echo: !json)
        let outcome: Outcome
        if let stages {
            outcome = try runPipeline(file: file, hyperparameters: hyper, stages: stages, prompt: promptIDs, sampling: sampling,
                                      stops: stops, constraint: constraint, logger: logger, onToken: { printer.append($0) })
        } else if let constraint {
            let runtime: LayerRangeModel
            do { runtime = try LayerRangeModel(file: file, threads: threads, logger: logger) } catch { throw CLIError("\(model): \(error)") }
            outcome = try runConstrained(runtime: runtime, tokenizer: tokenizer, prompt: promptIDs, sampling: sampling, stops: stops,
                                         constraint: constraint, onToken: { printer.append($0) })
        } else {
            let runtime: LayerRangeModel
            do { runtime = try LayerRangeModel(file: file, threads: threads, logger: logger) } catch { throw CLIError("\(model): \(error)") }
            var generator = Generator(model: runtime)
            generator.prefillChunk = batchSize
            do {
                let r = try generator.generate(prompt: promptIDs, maxTokens: maxTokens, sampling: sampling, stopTokens: stops,
                                               logprobs: logprobs, onToken: { printer.append($0); return true })
                outcome = Outcome(tokens: r.tokens, logprobs: r.logprobs, prefillSeconds: r.prefillSeconds, decodeSeconds: r.decodeSeconds,
                                  decodeSteps: r.decodeSteps, finishReason: r.stoppedBy.rawValue, threads: runtime.pool.count,
                                  kvCacheBytes: r.peakKVCacheBytes)
            } catch { throw CLIError("generation failed: \(error)") }
        }
        let (text, tail) = printer.finish()
        let result = outcome
        let promptRate = Double(promptIDs.count) / max(result.prefillSeconds, 1e-9)
        let genRate = result.decodeSteps > 0 ? Double(result.decodeSteps) / max(result.decodeSeconds, 1e-9) : 0
        if json {
            var object: [String: Any] = [
                "prompt_tokens": promptIDs.map(Int.init), "tokens": result.tokens.map(Int.init), "text": text,
                "finish_reason": result.finishReason,
                "prompt_tokens_per_second": promptRate, "generated_tokens_per_second": genRate,
                "prefill_seconds": result.prefillSeconds, "decode_seconds": result.decodeSeconds, "threads": result.threads,
                "stages": stages ?? 0,
            ]
            if logprobs { object["logprobs"] = result.logprobs.map(Double.init) }
            if let layers = result.layerCounts { object["layers"] = layers }
            if let c = result.stageComputeSeconds { object["stage_compute_seconds"] = c }
            if let w = result.stageWaitSeconds { object["stage_wait_seconds"] = w }
            if let m = result.stageResidentBytes { object["stage_resident_bytes"] = m }
            if let m = result.stageProportionalBytes { object["stage_proportional_bytes"] = m }
            if let b = result.kvCacheBytes { object["kv_cache_bytes"] = b }
            let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
            FileHandle.standardOutput.write(data + Data("\n".utf8))
        } else {
            FileHandle.standardOutput.write(Data((tail + "\n").utf8))
            let line = String(format: "[prompt: %d tokens, %.1f tokens/s | generated: %d tokens, %.1f tokens/s | %d threads]\n",
                              promptIDs.count, promptRate, result.tokens.count, genRate, result.threads)
            FileHandle.standardOutput.write(Data(line.utf8))
        }
    }

    private func promptTokenIDs(tokenizer: Tokenizer, vocabularySize: Int) throws -> [Int32] {
        if let promptTokens {
            var ids: [Int32] = []
            for part in promptTokens.split(separator: ",") {
                guard let v = Int32(part.trimmingCharacters(in: .whitespaces)), v >= 0, Int(v) < vocabularySize else {
                    throw CLIError("--prompt-tokens: '\(part)' is not a token id in 0..<\(vocabularySize)")
                }
                ids.append(v)
            }
            guard !ids.isEmpty else { throw CLIError("--prompt-tokens is empty") }
            return ids
        }
        if let n = randomPromptTokens {
            var rng = SplitMix64(seed: 42)
            return (0..<n).map { _ in Int32(truncatingIfNeeded: rng.next() % UInt64(vocabularySize)) }
        }
        var text = prompt ?? ""
        if let promptFile {
            guard let data = FileManager.default.contents(atPath: promptFile) else { throw CLIError("cannot read --prompt-file \(promptFile)") }
            guard let s = String(validating: data, as: UTF8.self) else {
                throw CLIError("--prompt-file \(promptFile) is not valid UTF-8 (first bad byte at offset \(firstInvalidUTF8Offset(Array(data))))")
            }
            text = s
        }
        let ids = tokenizer.encode(text, addSpecial: true, parseSpecial: parseSpecial)
        guard !ids.isEmpty else { throw CLIError("the prompt is empty (and the model adds no BOS token)") }
        return ids
    }
}

/// Rejects command-line arguments that are not valid UTF-8 (Swift would silently repair them).
/// Streams generated tokens' text to stdout (unless JSON is wanted) and keeps the whole text;
/// called from the engine's thread in a pipeline run.
final class TokenPrinter: @unchecked Sendable {
    // Sendable: `detokenizer` and `text` are guarded by `lock`.
    private let lock = NSLock()
    private var detokenizer: StreamingDetokenizer
    private var text = ""
    private let stops: Set<Int32>
    private let echo: Bool

    init(tokenizer: Tokenizer, stops: Set<Int32>, echo: Bool) {
        detokenizer = StreamingDetokenizer(tokenizer: tokenizer)
        self.stops = stops
        self.echo = echo
    }

    func append(_ token: Int32) {
        guard !stops.contains(token) else { return }
        lock.lock()
        let piece = detokenizer.append(token)
        text += piece
        lock.unlock()
        if echo { FileHandle.standardOutput.write(Data(piece.utf8)) }
    }

    /// The whole text and the tail that was still held back.
    func finish() -> (text: String, tail: String) {
        lock.lock(); defer { lock.unlock() }
        let tail = detokenizer.flush()
        text += tail
        return (text, tail)
    }
}

func requireUTF8Arguments() throws {
    for i in 0..<Int(CommandLine.argc) {
        guard let p = CommandLine.unsafeArgv[i] else { continue }
        let bytes = Array(UnsafeBufferPointer(start: p, count: strlen(p))).map { UInt8(bitPattern: $0) }
        if String(validating: bytes, as: UTF8.self) == nil {
            throw CLIError("command-line argument \(i) is not valid UTF-8 (first bad byte at offset \(firstInvalidUTF8Offset(bytes)))")
        }
    }
}

func firstInvalidUTF8Offset(_ b: [UInt8]) -> Int {
    var i = 0
    while i < b.count {
        let c = b[i]
        let n: Int
        if c < 0x80 { n = 1 } else if c >> 5 == 0x6 { n = 2 } else if c >> 4 == 0xE { n = 3 } else if c >> 3 == 0x1E { n = 4 } else { return i }
        guard i + n <= b.count, String(validating: b[i..<(i + n)], as: UTF8.self) != nil else { return i }
        i += n
    }
    return b.count
}

func openModel(_ path: String) throws -> GGUFFile {
    do { return try GGUFFile(path: path) } catch let e as GGUFError { throw CLIError(e.description) }
}

func makeLogger(level: String) -> Logger {
    LoggingSystem.bootstrap { label in
        var h = StreamLogHandler.standardError(label: label)
        h.logLevel = Logger.Level(rawValue: level) ?? .warning
        return h
    }
    return Logger(label: "pipeserve")
}
