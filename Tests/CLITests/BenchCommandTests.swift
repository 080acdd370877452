import Foundation
import Testing

/// `pipeserve bench` as the benchmark scripts run it: the decode-phase figure counts exactly the
/// iterations that carried no prefill work.
@Suite struct BenchCommandTests {
    /// The JSON row of `pipeserve bench` on the synthetic model, one stage and one micro-batch.
    private func benchRow(requests: Int, promptTokens: Int, outputTokens: Int, _ extra: String...) throws -> [String: Any] {
        let args = ["bench", "--model", try CLI.syntheticModel(), "--stages", "1", "--micro-batches", "1",
                    "--requests", "\(requests)", "--prompt-tokens", "\(promptTokens)",
                    "--output-tokens", "\(outputTokens)", "--json"] + extra
        let r = try CLI.run(args.map { Array($0.utf8) })
        #expect(r.status == 0, "\(r.output)")
        let rows = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [[String: Any]], "\(r.output)")
        return try #require(rows.first)
    }

    /// Two 4-token prompts fit the first iteration (both prefilled, one token each); the other
    /// 7 tokens of each sequence come from 7 iterations that only decode.
    @Test func decodePhaseCountsOnlyDecodeOnlyIterations() throws {
        let row = try benchRow(requests: 2, promptTokens: 4, outputTokens: 8)
        #expect(row["completed"] as? Int == 2)
        #expect(row["prefill_iterations"] as? Int == 1)
        #expect(row["decode_iterations"] as? Int == 7)
        #expect(row["decode_tokens"] as? Int == 14)
        let rate = try #require(row["decode_tokens_per_s"] as? Double)
        let seconds = try #require(row["decode_seconds"] as? Double)
        #expect(seconds > 0 && abs(rate - 14 / seconds) <= 1e-6 * rate)

        let table = try CLI.run("bench", "--model", try CLI.syntheticModel(), "--stages", "1", "--micro-batches", "1", "--requests", "2",
                                "--prompt-tokens", "4", "--output-tokens", "8")
        #expect(table.status == 0 && table.stdout.contains("| decode tok/s |"), "\(table.output)")
    }

    /// Prompts longer than one iteration's budget: the iterations that decode beside another
    /// prompt's chunk are not decode-only, so fewer than all generated tokens are counted.
    @Test func decodesBesidePrefillChunksAreLeftOut() throws {
        let row = try benchRow(requests: 3, promptTokens: 6, outputTokens: 6, "--max-batch-tokens", "8")
        let decoded = try #require(row["decode_tokens"] as? Int)
        let prefills = try #require(row["prefill_iterations"] as? Int)
        #expect(prefills >= 3, "18 prompt tokens need 3 iterations of 8: \(row)")
        #expect(decoded > 0 && decoded < 3 * 6 - 3, "\(row)")
    }

    @Test func noDecodeOnlyIterationGivesNull() throws {
        let row = try benchRow(requests: 2, promptTokens: 4, outputTokens: 1)
        #expect(row["decode_tokens_per_s"] is NSNull, "\(row)")
        #expect(row["decode_iterations"] as? Int == 0)
    }

    /// The pipeline-overhead sweep (scripts/bench-pipeline): one row per stage count and wire
    /// dtype (one stage has no wire: one row), each with the stages' memory.
    @Test func aWireDtypeListGivesARowPerDtypeWithStageMemory() throws {
        let r = try CLI.run("bench", "--model", try CLI.syntheticModel(), "--stages", "1,2", "--micro-batches", "1", "--requests", "1",
                            "--prompt-tokens", "1", "--output-tokens", "4", "--activation-dtype", "f32,bf16", "--json")
        #expect(r.status == 0, "\(r.output)")
        let rows = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [[String: Any]], "\(r.output)")
        #expect(rows.map { "\($0["stages"]!)/\($0["activation_dtype"]!)" } == ["1/f32", "2/f32", "2/bf16"])
        for row in rows {
            let pss = try #require(row["stage_proportional_bytes"] as? [Int])
            #expect(pss.count == row["stages"] as? Int && pss.allSatisfy { $0 > 0 }, "\(row)")
        }
        let bad = try CLI.run("bench", "--model", try CLI.syntheticModel(), "--activation-dtype", "f32,f8")
        #expect(bad.status != 0 && bad.output.contains("--activation-dtype"), "\(bad.output)")
    }
}
