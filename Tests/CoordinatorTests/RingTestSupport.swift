import ServingTypes
import Foundation
import GGUF
import Logging
import ModelRuntime
import SyntheticModels
@testable import Coordinator

let ringLogger: Logger = { var l = Logger(label: "ring-test"); l.logLevel = .warning; return l }()

enum Ring {
    /// The built pipeserve binary (stages are spawned from it).
    static var executable: String {
        if let p = ProcessInfo.processInfo.environment["PIPESERVE_BIN"] { return p }
        let dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        return dir.appendingPathComponent("pipeserve").path
    }

    static func model(_ preset: String) throws -> String {
        try SyntheticModel.temporaryFile(SyntheticModelSpec.preset(preset)!)
    }

    static func start(model: String, counts: [Int], threads: Int = 1, configure: (inout RingConfiguration) -> Void = { _ in }) throws -> StageRing {
        try StageRing(configuration: configuration(model: model, counts: counts, threads: threads, configure: configure), logger: ringLogger)
    }

    static func configuration(model: String, counts: [Int], threads: Int = 1, configure: (inout RingConfiguration) -> Void = { _ in })
        -> RingConfiguration
    {
        var start = 0
        var specs: [StageSpec] = []
        for (i, n) in counts.enumerated() {
            specs.append(StageSpec(index: i, layers: start..<(start + n), threads: threads))
            start += n
        }
        var c = RingConfiguration(modelPath: model, executable: executable, stages: specs)
        c.startupTimeoutSeconds = 30
        c.runtimeBase = FileManager.default.temporaryDirectory.appendingPathComponent("psr\(getpid() % 100000)").path
        configure(&c)
        return c
    }

    /// Every contiguous split of n layers into s stages (small n only).
    static func splits(_ n: Int, _ s: Int) -> [[Int]] {
        if s == 1 { return [[n]] }
        return (1...(n - s + 1)).flatMap { f in splits(n - f, s - 1).map { [f] + $0 } }
    }
}

func processExists(_ pid: Int32) -> Bool {
    // A zombie still "exists" for kill(0); read its state.
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8) else { return false }
    guard let close = stat.lastIndex(of: ")") else { return false }
    let state = stat[stat.index(close, offsetBy: 2)]
    return state != "Z" && state != "X"
}

extension PipelineEngine.Request {
    /// A test sequence that runs to `maxTokens` (end-of-generation tokens do not stop it, so its
    /// length is known in advance).
    init(id: SequenceID, prompt: [Int32], maxTokens: Int, sampling: SamplingParameters = SamplingParameters()) {
        self.init(id: id, prompt: prompt, stop: StopConditions(maxTokens: maxTokens, ignoreEOS: true), sampling: sampling)
    }
}
