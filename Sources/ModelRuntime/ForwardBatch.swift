import ServingTypes

/// Which positions of a chunk need logits (only the last stage computes them).
public enum LogitsRequest: Sendable, Equatable {
    case none, last, all
}

/// A run of consecutive tokens of one sequence in a batch: positions [start, start + count).
public struct SequenceChunk: Sendable, Equatable {
    public var sequence: SequenceID
    public var startPosition: Int
    /// Token ids; required on the first stage (it embeds them), carried along for the last stage's
    /// penalties and ignored elsewhere. When empty, `count` gives the length.
    public var tokens: [Int32]
    public var count: Int
    public var logits: LogitsRequest

    public init(sequence: SequenceID, startPosition: Int, tokens: [Int32], logits: LogitsRequest = .last) {
        self.sequence = sequence
        self.startPosition = startPosition
        self.tokens = tokens
        self.count = tokens.count
        self.logits = logits
    }

    public init(sequence: SequenceID, startPosition: Int, count: Int, logits: LogitsRequest = .last) {
        self.sequence = sequence
        self.startPosition = startPosition
        self.tokens = []
        self.count = count
        self.logits = logits
    }
}

/// The result of a forward pass over a layer range.
public struct ForwardOutput: Sendable {
    /// Hidden states after the range's last layer, `tokens × embeddingLength` (empty on the last stage).
    public var hidden: [Float]
    /// Logit rows (`vocabularySize` floats each), in batch order of the requested positions.
    public var logits: [Float]
    /// For each logit row: the index of its chunk in the batch and the position it belongs to.
    public var logitRows: [(chunk: Int, position: Int)]
    public var vocabularySize: Int

    /// Logit row `i` as a buffer slice copy.
    public func logitRow(_ i: Int) -> ArraySlice<Float> {
        logits[(i * vocabularySize)..<((i + 1) * vocabularySize)]
    }
}
