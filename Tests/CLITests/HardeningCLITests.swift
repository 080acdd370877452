import Foundation
import Testing

/// Inputs from outside the HTTP API that used to hang or mislead: a FIFO as the model, a burst of
/// configuration reloads, absurd thread counts, key files with several lines.
@Suite(.serialized) struct HardeningCLITests {
    @Test(.timeLimit(.minutes(1))) func aFIFOAsTheModelIsRefusedAtOnce() throws {
        let fifo = CLI.scratch("fifo-\(UUID().uuidString.prefix(8)).gguf")
        #expect(mkfifo(fifo, 0o600) == 0)
        defer { unlink(fifo) }
        let inspect = try CLI.run("inspect", fifo)
        #expect(inspect.status != 0 && inspect.stderr.contains("not a regular file (a FIFO)"), "\(inspect.stderr)")
        let serve = try CLI.run("serve", "--model", fifo, "--port", "0")
        #expect(serve.status != 0 && serve.stderr.contains("not a regular file (a FIFO)"), "\(serve.stderr)")
    }

    @Test func configCheckRefusesWhatCouldOnlyMisbehave() throws {
        let path = CLI.scratch("check-\(UUID().uuidString.prefix(8)).yaml")
        try "pipeline: {stages: 2, threads_per_stage: 1024}\n".write(toFile: path, atomically: true, encoding: .utf8)
        let threads = try CLI.run("config", "check", path)
        #expect(threads.status != 0 && threads.stderr.contains("pipeline.threads_per_stage") && threads.stderr.contains("usable CPUs"),
                "\(threads.stderr)")
        try "scheduler: {max_queue: 2}\nlimits: {max_n: 3}\n".write(toFile: path, atomically: true, encoding: .utf8)
        let n = try CLI.run("config", "check", path)
        #expect(n.status != 0 && n.stderr.contains("limits.max_n"), "\(n.stderr)")
        let key = CLI.scratch("key-\(UUID().uuidString.prefix(8))")
        try "first key with spaces\n".write(toFile: key, atomically: true, encoding: .utf8)
        chmod(key, 0o600)
        try "http: {api_key_file: \(key)}\n".write(toFile: path, atomically: true, encoding: .utf8)
        let badKey = try CLI.run("config", "check", path)
        #expect(badKey.status != 0 && badKey.stderr.contains("\(key):1") && badKey.stderr.contains("whitespace"), "\(badKey.stderr)")
        try "sk-one\nsk-two\n".write(toFile: key, atomically: true, encoding: .utf8)
        #expect(try CLI.run("config", "check", path).status == 0)
    }
}
