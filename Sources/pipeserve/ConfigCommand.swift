import ArgumentParser
import ServeConfig

/// `pipeserve config check FILE`.
struct ConfigCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config", abstract: "Work with configuration files.", subcommands: [Check.self])

    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Validate a configuration file and print the effective settings (defaults filled in).")

        @Argument(help: "The YAML file, e.g. /etc/pipeserve/pipeserve.yaml.") var file: String

        func run() throws {
            let c: ServeConfiguration
            do { c = try ConfigLoader.load(path: file) } catch let e as ConfigError { throw CLIError(e.description) }
            print(c.renderedYAML(), terminator: "")
        }
    }
}
