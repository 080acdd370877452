import ArgumentParser
import GGUF
import ModelRuntime

/// `pipeserve synth-model`: writes a small random model (for tests, benchmarks and the
/// reference fixtures). Hidden from the main help: it is a developer tool.
struct SynthModel: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "synth-model",
        abstract: "Write a synthetic GGUF model (tiny-llama, tiny-qwen2, tiny-gemma3, tinyllama-shape).",
        shouldDisplay: false)

    @Option(help: "Preset name.") var preset: String
    @Option(help: "Output path.") var output: String
    @Option(help: "Override the weight type (F32, F16, BF16, Q8_0, Q4_0).") var weightType: String?

    func run() throws {
        guard var spec = SyntheticModelSpec.preset(preset) else {
            throw CLIError("unknown preset '\(preset)' (known: tiny-llama, tiny-qwen2, tiny-gemma3, tinyllama-shape)")
        }
        if let weightType {
            let types: [String: GGMLType] = ["F32": .f32, "F16": .f16, "BF16": .bf16, "Q8_0": .q8_0, "Q4_0": .q4_0]
            guard let t = types[weightType.uppercased()] else {
                throw CLIError("unsupported --weight-type \(weightType) (F32, F16, BF16, Q8_0, Q4_0)")
            }
            spec.weightType = t
        }
        try SyntheticModel.writer(spec).write(to: output)
        print(output)
    }
}
