import ArgumentParser
import GGUF
import ModelRuntime

/// `pipeserve inspect PATH`: what a GGUF file holds.
struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print a GGUF model's architecture, hyperparameters, tensor types and vocabulary.")

    @Argument(help: "Path of the GGUF file.") var path: String
    @Flag(help: "Also list every metadata key and every tensor.") var all = false

    func run() throws {
        let file: GGUFFile
        do { file = try GGUFFile(path: path) } catch let e as GGUFError { throw CLIError(e.description) }
        print("file: \(path)")
        print("format: GGUF v\(file.version), \(file.fileSize) bytes, \(file.metadata.entries.count) metadata keys, \(file.tensors.count) tensors, alignment \(file.alignment)")
        let arch = (try? file.metadata.string("general.architecture")) ?? "?"
        print("architecture: \(arch)")
        if let name = try? file.metadata.string("general.name") { print("name: \(name)") }
        do {
            let h = try Hyperparameters(metadata: file.metadata, tensors: file.tensors)
            print("layers: \(h.layerCount)  embedding: \(h.embeddingLength)  ffn: \(h.feedForwardLength)")
            print("heads: \(h.headCount)  kv heads: \(h.kvHeadCount)  head dim: \(h.headDim)  rope dims: \(h.ropeDimensions)\(h.ropeNeox ? " (neox)" : "")")
            print("context: \(h.contextLength)  rms eps: \(h.rmsEpsilon)  vocabulary: \(h.vocabularySize)")
            let windows = Set(h.layers.compactMap(\.slidingWindow))
            if !windows.isEmpty {
                let local = h.layers.filter { $0.slidingWindow != nil }.count
                print("sliding window: \(windows.sorted()) on \(local) of \(h.layerCount) layers")
            }
        } catch {
            print("runtime: cannot run this model: \(error)")
        }
        if let model = try? file.metadata.string("tokenizer.ggml.model") {
            let n = (try? file.metadata.stringArray("tokenizer.ggml.tokens"))??.count ?? 0
            let pre = (try? file.metadata.optionalString("tokenizer.ggml.pre")) ?? nil
            print("tokenizer: \(model)\(pre.map { " (pre: \($0))" } ?? ""), \(n) tokens")
        }
        var byType: [String: (count: Int, bytes: Int)] = [:]
        for t in file.tensors { byType[t.type.name, default: (0, 0)].count += 1; byType[t.type.name, default: (0, 0)].bytes += t.byteCount }
        print("tensors by type:")
        for (name, v) in byType.sorted(by: { $0.value.bytes > $1.value.bytes }) {
            print("  \(name.padding(toLength: 6, withPad: " ", startingAt: 0)) \(String(v.count).leftPad(5)) tensors  \(formatBytes(v.bytes).leftPad(10))")
        }
        print("  total  \(String(file.tensors.count).leftPad(5)) tensors  \(formatBytes(file.tensors.reduce(0) { $0 + $1.byteCount }).leftPad(10))")
        if all {
            print("metadata:")
            for (k, v) in file.metadata.entries { print("  \(k) = \(v.summary)") }
            print("tensor table:")
            for t in file.tensors { print("  \(t.name) \(t.type) \(t.dims) @\(t.offset) \(t.byteCount) B") }
        }
    }
}

func formatBytes(_ n: Int) -> String {
    if n >= 1 << 30 { return String(format: "%.2f GiB", Double(n) / Double(1 << 30)) }
    if n >= 1 << 20 { return String(format: "%.1f MiB", Double(n) / Double(1 << 20)) }
    if n >= 1 << 10 { return String(format: "%.1f KiB", Double(n) / Double(1 << 10)) }
    return "\(n) B"
}

extension String {
    func leftPad(_ n: Int) -> String { count >= n ? self : String(repeating: " ", count: n - count) + self }
}

import Foundation
import Serving
