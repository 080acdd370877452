import Foundation
import Testing

/// `pipeserve generate` and `inspect` as a user runs them: the happy path and every class of bad
/// input ending with a message that names the problem and a non-zero exit.
@Suite struct GenerateCommandTests {
    @Test func generatesJSONOnASyntheticModel() throws {
        let model = try CLI.syntheticModel()
        let r = try CLI.run("generate", "--model", model, "--prompt", "the cat", "--max-tokens", "5", "--json", "--ignore-eos")
        #expect(r.status == 0, "\(r.output)")
        let obj = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        #expect((obj["tokens"] as? [Int])?.count == 5)
        #expect((obj["prompt_tokens"] as? [Int])?.first == 1)  // BOS
        #expect(obj["text"] is String)
        #expect(obj["generated_tokens_per_second"] is Double)
    }

    @Test func streamsTextAndEndsWithASpeedLine() throws {
        let model = try CLI.syntheticModel()
        let r = try CLI.run("generate", "--model", model, "--prompt", "hello", "--max-tokens", "4", "--ignore-eos",
                            "--temperature", "0.8", "--seed", "3", "--threads", "2")
        #expect(r.status == 0, "\(r.output)")
        let last = r.stdout.split(separator: "\n").last.map(String.init) ?? ""
        #expect(last.contains("tokens/s") && last.contains("generated: 4 tokens"), "\(last)")
    }

    @Test func seededSamplingIsReproducible() throws {
        let model = try CLI.syntheticModel()
        let args = ["generate", "--model", model, "--prompt", "a b c", "--max-tokens", "8", "--json", "--ignore-eos",
                    "--temperature", "1", "--seed", "11"]
        let a = try CLI.run(args.map { Array($0.utf8) }), b = try CLI.run((args + ["--threads", "3"]).map { Array($0.utf8) })
        func tokens(_ r: CLIResult) throws -> [Int] {
            try #require((try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])?["tokens"] as? [Int])
        }
        #expect(try tokens(a) == tokens(b))
    }

    @Test func missingModelFile() throws {
        let r = try CLI.run("generate", "--model", "/nonexistent/m.gguf", "--prompt", "x", "--max-tokens", "1")
        #expect(r.status != 0)
        #expect(r.stderr.contains("/nonexistent/m.gguf"), "\(r.output)")
    }

    @Test func brokenModelFile() throws {
        let path = CLI.scratch("broken.gguf")
        try Data("NOTAGGUFFILE-----------------------".utf8).write(to: URL(fileURLWithPath: path))
        let r = try CLI.run("generate", "--model", path, "--prompt", "x", "--max-tokens", "1")
        #expect(r.status != 0)
        #expect(r.stderr.contains("not a GGUF file"), "\(r.output)")
        let i = try CLI.run("inspect", path)
        #expect(i.status != 0 && i.stderr.contains("bad magic"), "\(i.output)")
    }

    @Test func unsupportedArchitecture() throws {
        let model = try CLI.syntheticModel { $0.set("general.architecture", .string("rwkv6")) }
        let r = try CLI.run("generate", "--model", model, "--prompt", "x", "--max-tokens", "1")
        #expect(r.status != 0)
        #expect(r.stderr.contains("rwkv6") && r.stderr.contains("gemma3, llama, qwen2"), "\(r.output)")
    }

    @Test func promptLongerThanContext() throws {
        let model = try CLI.syntheticModel()  // context 256
        let long = String(repeating: "zq ", count: 400)
        let r = try CLI.run("generate", "--model", model, "--prompt", long, "--max-tokens", "1")
        #expect(r.status != 0)
        #expect(r.stderr.contains("context"), "\(r.output)")
    }

    @Test func promptBytesNotUTF8() throws {
        let model = try CLI.syntheticModel()
        let bad: [UInt8] = [0x61, 0xFF, 0xFE, 0x62]
        let r = try CLI.run([Array("generate".utf8), Array("--model".utf8), Array(model.utf8), Array("--prompt".utf8), bad,
                             Array("--max-tokens".utf8), Array("2".utf8)])
        #expect(r.status != 0)
        #expect(r.stderr.contains("not valid UTF-8"), "\(r.output)")
        let file = CLI.scratch("bad-prompt.txt")
        try Data(bad).write(to: URL(fileURLWithPath: file))
        let f = try CLI.run("generate", "--model", model, "--prompt-file", file, "--max-tokens", "2")
        #expect(f.status != 0)
        #expect(f.stderr.contains("not valid UTF-8") && f.stderr.contains("offset 1"), "\(f.output)")
    }

    @Test func nonPositiveMaxTokens() throws {
        let model = try CLI.syntheticModel()
        for n in ["0", "-3"] {
            let r = try CLI.run("generate", "--model", model, "--prompt", "x", "--max-tokens", n)
            #expect(r.status != 0)
            #expect(r.stderr.contains("--max-tokens"), "\(r.output)")
        }
    }

    @Test func badTokenIDsAndOptions() throws {
        let model = try CLI.syntheticModel()
        let r = try CLI.run("generate", "--model", model, "--prompt-tokens", "1,99999", "--max-tokens", "1")
        #expect(r.status != 0 && r.stderr.contains("99999"), "\(r.output)")
        let t = try CLI.run("generate", "--model", model, "--prompt", "x", "--top-p", "1.5")
        #expect(t.status != 0 && t.stderr.contains("--top-p"), "\(t.output)")
    }

    @Test func inspectDescribesTheModel() throws {
        let model = try CLI.syntheticModel("tiny-gemma3")
        let r = try CLI.run("inspect", model)
        #expect(r.status == 0, "\(r.output)")
        #expect(r.stdout.contains("architecture: gemma3") && r.stdout.contains("layers: 6") && r.stdout.contains("F32"), "\(r.stdout)")
        #expect(r.stdout.contains("sliding window"))
    }
}
