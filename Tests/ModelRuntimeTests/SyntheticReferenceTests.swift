import Foundation
import Testing
@testable import ModelRuntime

/// Logits of the synthetic models against an independent float64 forward (numpy, reading the GGUF
/// with the `gguf` package): scripts/reference/make-synthetic-fixtures wrote the fixtures.
@Suite struct SyntheticReferenceTests {
    struct Fixture: Decodable {
        struct Prompt: Decodable { let tokens: [Int32]; let logits: [[Float]] }
        let model_fnv1a64: String
        let architecture: String
        let prompts: [Prompt]
    }

    @Test(arguments: ["tiny-llama", "tiny-qwen2", "tiny-gemma3"])
    func logitsMatchReference(preset: String) throws {
        let url = try #require(fixtureURL("synthetic-\(preset).json"), "missing fixture synthetic-\(preset).json")
        let fixture = try JSONDecoder().decode(Fixture.self, from: Data(contentsOf: url))
        let path = try TestModels.path(preset)
        #expect(try fnv1a64(path: path) == fixture.model_fnv1a64,
                "synthetic model generator changed: rerun scripts/reference/make-synthetic-fixtures")
        let m = try TestModels.model(preset)
        #expect(m.hyperparameters.architecture.rawValue == fixture.architecture)
        for (i, p) in fixture.prompts.enumerated() {
            let out = try m.forward([SequenceChunk(sequence: SequenceID(UInt64(i)), startPosition: 0, tokens: p.tokens, logits: .all)])
            #expect(firstMismatch(out.logits, p.logits.flatMap { $0 }, tol: 1e-3) == nil, "prompt \(i)")
        }
    }
}
