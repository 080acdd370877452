import ArgumentParser
import GGUF
import SyntheticModels

/// `pipeserve synth-model`: writes a small random model (for tests, benchmarks and the
/// reference fixtures). Hidden from the main help: it is a developer tool.
struct SynthModel: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "synth-model",
        abstract: "Write a synthetic GGUF model with random weights: tiny-llama, tiny-qwen2, tiny-gemma3 (tests) or tinyllama (TinyLlama-1.1B shape, benchmarks).",
        discussion: "Example: pipeserve synth-model --shape tinyllama --type q8_0 tinyllama-q8.gguf",
        shouldDisplay: false)

    @Option(name: [.customLong("shape"), .customLong("preset")], help: "Model shape.") var preset: String
    @Option(help: "Output path (or give it as the argument).") var output: String?
    @Argument(help: "Output path.") var outputPath: String?
    @Option(name: [.customLong("type"), .customLong("weight-type")], help: "Weight type: F32, F16, BF16, Q8_0, Q5_0, Q4_0.")
    var weightType: String?

    func run() throws {
        guard let output = output ?? outputPath else { throw CLIError("give the output path (argument or --output)") }
        guard var spec = SyntheticModelSpec.preset(preset) else {
            throw CLIError("unknown shape '\(preset)' (known: tiny-llama, tiny-qwen2, tiny-gemma3, tinyllama)")
        }
        if let weightType {
            let types: [String: GGMLType] = ["F32": .f32, "F16": .f16, "BF16": .bf16, "Q8_0": .q8_0, "Q5_0": .q5_0, "Q4_0": .q4_0]
            guard let t = types[weightType.uppercased()] else {
                throw CLIError("unsupported --weight-type \(weightType) (F32, F16, BF16, Q8_0, Q5_0, Q4_0)")
            }
            spec.weightType = t
        }
        try SyntheticModel.writer(spec).write(to: output)
        print(output)
    }
}
