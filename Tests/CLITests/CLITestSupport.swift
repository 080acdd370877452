import Foundation
import GGUF
import SyntheticModels

/// Runs the built `pipeserve` binary (next to the test bundle, or PIPESERVE_BIN).
struct CLIResult {
    var status: Int32
    var stdout: String
    var stderr: String
    var output: String { stdout + stderr }
}

enum CLI {
    static var binary: String {
        if let p = ProcessInfo.processInfo.environment["PIPESERVE_BIN"] { return p }
        let dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        let candidates = [dir.appendingPathComponent("pipeserve").path,
                          dir.deletingLastPathComponent().appendingPathComponent("pipeserve").path]
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) } ?? candidates[0]
    }

    /// Runs pipeserve with raw byte arguments (so tests can pass invalid UTF-8).
    static func run(_ args: [[UInt8]]) throws -> CLIResult {
        // Pass arguments through a helper shell so raw bytes survive: write them NUL-separated to a file.
        let argFile = scratch("args-\(UUID().uuidString)")
        var blob = Data()
        for a in args { blob.append(contentsOf: a); blob.append(0) }
        try blob.write(to: URL(fileURLWithPath: argFile))
        return try exec("/usr/bin/env", ["bash", "-c", "mapfile -d '' A < \"$1\"; exec \"$0\" \"${A[@]}\"", binary, argFile])
    }

    /// Runs any program to its end and returns its status, stdout and stderr.
    static func exec(_ executable: String, _ args: [String], directory: URL? = nil) throws -> CLIResult {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable)
        p.arguments = args
        if let directory { p.currentDirectoryURL = directory }
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return CLIResult(status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: e, as: UTF8.self))
    }

    static func run(_ args: String...) throws -> CLIResult { try run(args.map { Array($0.utf8) }) }

    static func scratch(_ name: String) -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pipeserve-cli-\(getpid())")
        try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir.appendingPathComponent(name).path
    }

    static func syntheticModel(_ preset: String = "tiny-llama", edit: (inout GGUFWriter) -> Void = { _ in }) throws -> String {
        var w = SyntheticModel.writer(SyntheticModelSpec.preset(preset)!)
        edit(&w)
        let path = scratch("\(preset)-\(UUID().uuidString).gguf")
        try w.write(to: path)
        return path
    }
}
