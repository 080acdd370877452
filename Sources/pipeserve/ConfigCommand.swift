import ArgumentParser
import Foundation
import ServeConfig
import Serving

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
            do {
                c = try ConfigLoader.load(path: file)
                if let keyFile = c.http.apiKeyFile { _ = try APIKeyFile.read(path: keyFile) }
                // On this machine: compute threads against the CPUs this process may use.
                for warning in try ConfigLoader.cpuCheck(c, usableCPUs: Machine.usableCPUCount(), file: file) + ConfigLoader.pipelineAdvice(c) {
                    FileHandle.standardError.write(Data("warning: \(warning)\n".utf8))
                }
            } catch let e as ConfigError { throw CLIError(e.description) }
            for warning in ConfigLoader.permissionWarnings(configPath: file, configuration: c) {
                FileHandle.standardError.write(Data("warning: \(warning)\n".utf8))
            }
            print(c.renderedYAML(), terminator: "")
        }
    }
}
