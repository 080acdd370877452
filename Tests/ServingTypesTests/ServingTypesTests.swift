import Testing
import ServingTypes

/// The shared request vocabulary: values every module relies on.
@Suite struct ServingTypesTests {
    @Test func samplingDefaultsAreTheUnmodifiedDistribution() {
        let p = SamplingParameters()
        #expect(p.temperature == 1 && p.topK == 0 && p.topP == 1 && p.minP == 0)
        #expect(!p.hasPenalties)
        #expect(p.penaltyWindow == 64)
        #expect(SamplingParameters.greedy.temperature == 0)
        var q = p
        q.presencePenalty = 0.5
        #expect(q.hasPenalties && q != p)
    }

    /// The memberwise initializer and the defaults agree, so callers may use either.
    @Test func initializerDefaultsMatchThePropertyDefaults() {
        #expect(SamplingParameters() == SamplingParameters(temperature: 1))
        #expect(SamplingParameters(seed: 9).seed == 9)
    }

    @Test func identifiersPrintAsTheyAreLogged() {
        let r: RequestID = "cmpl-abc"
        #expect(r.description == "cmpl-abc" && r == RequestID("cmpl-abc"))
        #expect(SequenceID(7).description == "seq 7" && SequenceID(3) < SequenceID(7))
    }

    @Test func finishReasonsSpellOpenAIsValues() {
        #expect(FinishReason.stop.rawValue == "stop" && FinishReason.length.rawValue == "length")
        #expect(Usage(promptTokens: 3, completionTokens: 4).totalTokens == 7)
        #expect(StopConditions(maxTokens: 5).stopStrings.isEmpty && !StopConditions(maxTokens: 5).ignoreEOS)
    }
}
