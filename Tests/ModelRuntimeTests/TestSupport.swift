import Foundation
import GGUF
import Logging
@testable import ModelRuntime
import SyntheticModels

let testLogger: Logger = { var l = Logger(label: "test"); l.logLevel = .warning; return l }()

enum TestModels {
    /// The synthetic model of a preset (written once per process) and its path.
    static func path(_ preset: String, weightType: GGMLType? = nil) throws -> String {
        var spec = SyntheticModelSpec.preset(preset)!
        if let weightType { spec.weightType = weightType }
        return try SyntheticModel.temporaryFile(spec)
    }

    static func model(_ preset: String, layers: Range<Int>? = nil, threads: Int = 1, weightType: GGMLType? = nil) throws -> LayerRangeModel {
        try LayerRangeModel(file: try GGUFFile(path: try path(preset, weightType: weightType)), layers: layers, threads: threads,
                            logger: testLogger)
    }

    /// The real demo model: PIPESERVE_MODEL, or the fetch-model cache. `nil` when neither exists.
    static var realModelPath: String? {
        if let p = ProcessInfo.processInfo.environment["PIPESERVE_MODEL"] { return p }
        let p = FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache/pipeserve/models/gemma-3-270m-q4_k_m.gguf").path
        return FileManager.default.fileExists(atPath: p) ? p : nil
    }
}

/// FNV-1a 64 of a file (the synthetic fixtures record it to prove they match the generator).
func fnv1a64(path: String) throws -> String {
    let data = try Data(contentsOf: URL(fileURLWithPath: path))
    var h: UInt64 = 0xCBF2_9CE4_8422_2325
    for b in data { h = (h ^ UInt64(b)) &* 0x100_0000_01B3 }
    return String(format: "%016llx", h)
}

func fixtureURL(_ name: String) -> URL? {
    Bundle.module.url(forResource: "Fixtures/\(name)", withExtension: nil)
        ?? Bundle.module.url(forResource: name, withExtension: nil, subdirectory: "Fixtures")
}

/// First index where two float arrays differ by more than `tol`, with the values.
func firstMismatch(_ a: [Float], _ b: [Float], tol: Float) -> String? {
    guard a.count == b.count else { return "length \(a.count) vs \(b.count)" }
    for i in a.indices where !(abs(a[i] - b[i]) <= tol) { return "index \(i): \(a[i]) vs \(b[i])" }
    return nil
}
