import Foundation
import Testing

/// `plan` and `generate --stages` as a user runs them, including bad partitions and placements.
@Suite struct PipelineCommandTests {
    @Test func planPrintsATableAndEfficiency() throws {
        let model = try CLI.syntheticModel("tiny-gemma3")
        let r = try CLI.run("plan", "--model", model, "--stages", "3")
        #expect(r.status == 0, "\(r.output)")
        #expect(r.stdout.contains("efficiency") && r.stdout.contains("norm + head") && r.stdout.contains("embedding"), "\(r.stdout)")
        let e = try CLI.run("plan", "--model", model, "--stages", "2", "--layers", "4,4")
        #expect(e.status != 0 && e.stderr.contains("sums to 8") && e.stderr.contains("6 layers"), "\(e.output)")
        let z = try CLI.run("plan", "--model", model, "--stages", "2", "--layers", "6,0")
        #expect(z.status != 0 && z.stderr.contains("fewer than 1 layer"), "\(z.output)")
        let n = try CLI.run("plan", "--model", model, "--stages", "7")
        #expect(n.status != 0 && n.stderr.contains("7 stages"), "\(n.output)")
        let x = try CLI.run("plan", "--model", model, "--stages", "2", "--layers", "3,x")
        #expect(x.status != 0 && x.stderr.contains("'x'"), "\(x.output)")
        #expect(r.stdout.contains("workload: 128 prompt + 128 output tokens"), "\(r.stdout)")
        let d = try CLI.run("plan", "--model", model, "--stages", "2", "--decode-step")
        #expect(d.status == 0 && d.stdout.contains("workload: one decode step"), "\(d.output)")
        let rows = try CLI.run("plan", "--model", model, "--decode-rows", "0")
        #expect(rows.status != 0 && rows.stderr.contains("--decode-rows"), "\(rows.output)")
        let none = try CLI.run("plan", "--model", model, "--prompt-tokens", "0", "--output-tokens", "0")
        #expect(none.status != 0 && none.stderr.contains("not both 0"), "\(none.output)")
    }

    @Test func generateThroughStagesMatchesOneProcess() throws {
        let model = try CLI.syntheticModel("tiny-llama")
        let base = ["generate", "--model", model, "--prompt", "the cat sat", "--max-tokens", "6", "--json", "--ignore-eos", "--logprobs"]
        let one = try CLI.run(base.map { Array($0.utf8) })
        let three = try CLI.run((base + ["--stages", "3", "--layers", "1,2,1", "--numa", "auto"]).map { Array($0.utf8) })
        #expect(one.status == 0 && three.status == 0, "\(one.output) \(three.output)")
        func parse(_ r: CLIResult) throws -> [String: Any] {
            try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        }
        let a = try parse(one), b = try parse(three)
        #expect(a["tokens"] as? [Int] == b["tokens"] as? [Int])
        #expect(a["logprobs"] as? [Double] == b["logprobs"] as? [Double])
        #expect(b["layers"] as? [Int] == [1, 2, 1])
        #expect((b["stage_compute_seconds"] as? [Double])?.count == 3)
    }

    @Test func badPipelineFlags() throws {
        let model = try CLI.syntheticModel("tiny-llama")
        let cases: [([String], String)] = [
            (["--stages", "0"], "--stages"),
            (["--stages", "2", "--layers", "3,3"], "sums to 6"),
            (["--layers", "2,2"], "--layers needs --stages"),
            (["--stages", "2", "--numa", "9"], "node 9 does not exist"),
            (["--stages", "2", "--numa", "sideways"], "numa must be"),
            (["--stages", "2", "--activation-dtype", "f8"], "--activation-dtype"),
        ]
        for (extra, message) in cases {
            let r = try CLI.run((["generate", "--model", model, "--prompt", "x", "--max-tokens", "2"] + extra).map { Array($0.utf8) })
            #expect(r.status != 0 && r.stderr.contains(message), "\(extra): \(r.output)")
        }
    }
}
