import ServingTypes
/// Fields shared by /v1/completions and /v1/chat/completions, validated.
struct SamplingOptions: Sendable {
    /// The sampling fields, straight into the shared type (its seed is set per choice).
    var parameters = SamplingParameters()
    /// nil: a random seed per request.
    var seed: UInt64?
    var stop: [String] = []
    var n: Int = 1
    var stream = false
    var includeUsage = false
    /// vLLM's extension (load generators rely on it): keep generating past end-of-generation tokens.
    var ignoreEOS = false
    var model: String?

    /// Reads and range-checks the shared fields (OpenAI's ranges; vLLM's for top_k/min_p/
    /// repetition_penalty).
    init(reading fields: inout FieldReader, maxN: Int) throws(APIError) {
        model = try fields.string("model")
        _ = try fields.string("user")  // accepted, not used
        if let value = try fields.number("temperature", "between 0 and 2", { $0 >= 0 && $0 <= 2 }) {
            parameters.temperature = Float(value)
        }
        if let value = try fields.number("top_p", "greater than 0 and at most 1", { $0 > 0 && $0 <= 1 }) {
            parameters.topP = Float(value)
        }
        if let value = try fields.int("top_k", in: -1...Int(Int32.max), "-1, 0 (disabled) or a positive integer") {
            parameters.topK = max(0, value)
        }
        if let value = try fields.number("min_p", "between 0 and 1", { $0 >= 0 && $0 <= 1 }) {
            parameters.minP = Float(value)
        }
        if let value = try fields.number("presence_penalty", "between -2 and 2", { $0 >= -2 && $0 <= 2 }) {
            parameters.presencePenalty = Float(value)
        }
        if let value = try fields.number("frequency_penalty", "between -2 and 2", { $0 >= -2 && $0 <= 2 }) {
            parameters.frequencyPenalty = Float(value)
        }
        if let value = try fields.number("repetition_penalty", "greater than 0 and at most 2", { $0 > 0 && $0 <= 2 }) {
            parameters.repetitionPenalty = Float(value)
        }
        if let value = try fields.int("seed") {
            seed = UInt64(bitPattern: value)
        }
        n = try fields.int("n", in: 1...max(1, maxN), "between 1 and \(maxN)") ?? 1
        stop = try Self.readStop(&fields)
        stream = try fields.bool("stream") ?? false
        ignoreEOS = try fields.bool("ignore_eos") ?? false
        if let options = fields.value("stream_options") {
            guard stream else {
                throw APIError.invalidRequest(
                    "'stream_options' is only allowed when 'stream' is true.", param: "stream_options")
            }
            var reader = FieldReader(options, path: "stream_options.")
            guard case .object = options else { throw fields.typeError("stream_options", "an object", got: options) }
            includeUsage = try reader.bool("include_usage") ?? false
            _ = try reader.bool("continuous_usage_stats")  // vLLM's; usage is only sent at the end
            try reader.rejectUnread(unsupported: [])
        }
    }

    private static func readStop(_ fields: inout FieldReader) throws(APIError) -> [String] {
        guard let value = fields.value("stop") else { return [] }
        var stops: [String]
        switch value {
        case .string(let stop): stops = [stop]
        case .array(let items):
            stops = []
            for item in items {
                guard case .string(let stop) = item else {
                    throw fields.typeError("stop", "a string or an array of strings", got: value)
                }
                stops.append(stop)
            }
            guard stops.count <= 4 else {
                throw fields.rangeError("stop", "at most 4 strings", got: "\(stops.count)")
            }
        default:
            throw fields.typeError("stop", "a string or an array of strings", got: value)
        }
        guard !stops.contains("") else {
            throw fields.rangeError("stop", "non-empty strings", got: "an empty string")
        }
        return stops
    }

    /// The engine request for choice `choiceIndex` (seed + choice index, so choices differ).
    func generationRequest(
        prompt: [Int32], maxTokens: Int, baseSeed: UInt64, choiceIndex: Int, logprobs: Int?,
        echoPromptLogprobs: Bool, requestID: RequestID, constraint: OutputConstraint? = nil
    ) -> GenerationRequest {
        var sampling = parameters
        sampling.seed = baseSeed &+ UInt64(choiceIndex)
        return GenerationRequest(
            requestID: requestID, prompt: prompt, sampling: sampling,
            stop: StopConditions(maxTokens: maxTokens, stopStrings: stop, ignoreEOS: ignoreEOS),
            logprobs: logprobs, echoPromptLogprobs: echoPromptLogprobs, constraint: constraint)
    }
}
