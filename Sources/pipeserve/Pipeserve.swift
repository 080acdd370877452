import ArgumentParser

/// The `pipeserve` command: subcommands for running, inspecting and measuring models.
@main
struct Pipeserve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pipeserve",
        abstract: "Pipeline-parallel LLM serving for CPUs (GGUF models).",
        version: "0.1.0",
        subcommands: [Serve.self, Generate.self, Bench.self, Inspect.self, Plan.self, ConfigCommand.self, Stage.self, SynthModel.self]
    )
}
