/// The traffic a partition is balanced for: how many prompt and generated tokens a request has,
/// and how many rows a micro-batch carries in each phase.
///
/// The phases load stages differently. A decode micro-batch of `decodeRows` rows reads every
/// weight once and computes the head for every row. A prefill micro-batch of up to `prefillRows`
/// prompt tokens reads every weight once too, but computes the head only for the last token of
/// each prompt — so during prefill the head is nearly free and the layers are the whole cost. A
/// split that balances decode alone (a heavy head on a short last stage) leaves the first stage
/// the bottleneck of every prefill micro-batch; balancing the mix weighs both phases by the
/// share of tokens each one processes.
public struct PartitionWorkload: Sendable, Equatable, CustomStringConvertible {
    /// Mean prompt tokens per request (prefill).
    public var promptTokens: Int
    /// Mean generated tokens per request (decode steps).
    public var outputTokens: Int
    /// Rows (sequences) in one decode micro-batch.
    public var decodeRows: Int
    /// Prompt tokens in one prefill micro-batch (the scheduler's token budget per iteration).
    public var prefillRows: Int

    public init(promptTokens: Int, outputTokens: Int, decodeRows: Int, prefillRows: Int) {
        self.promptTokens = max(0, promptTokens)
        self.outputTokens = max(0, outputTokens)
        self.decodeRows = max(1, decodeRows)
        self.prefillRows = max(1, prefillRows)
    }

    /// One token decoded at a time and no prompt: the cost of a single decode step.
    public static let decodeStep = PartitionWorkload(promptTokens: 0, outputTokens: 1, decodeRows: 1, prefillRows: 1)

    /// A server's traffic: `runningSequences` decoding at once over `microBatches` micro-batches
    /// (each of at most `batchTokens` tokens), prefill chunks of `prefillChunkTokens` tokens; when
    /// nothing more is known, prompts as long as the answers (128 + 128).
    public static func serving(promptTokens: Int = 128, outputTokens: Int = 128, runningSequences: Int, microBatches: Int,
                               batchTokens: Int, prefillChunkTokens: Int) -> PartitionWorkload {
        PartitionWorkload(promptTokens: promptTokens, outputTokens: outputTokens,
                          decodeRows: max(1, min(runningSequences / max(1, microBatches), batchTokens)), prefillRows: prefillChunkTokens)
    }

    /// Share of the processed tokens that are prompt tokens.
    var prefillShare: Double {
        let total = promptTokens + outputTokens
        return total > 0 ? Double(promptTokens) / Double(total) : 0
    }

    /// Prompt tokens per read of the head's weights: once per prompt, or once per micro-batch when
    /// several short prompts share one.
    var prefillTokensPerHeadRead: Int { max(promptTokens, prefillRows, 1) }

    public var description: String {
        "\(promptTokens) prompt + \(outputTokens) output tokens, \(decodeRows) rows per decode micro-batch, \(prefillRows) per prefill micro-batch"
    }
}
