import Foundation
import GGUF
import Serving
import Testing
import Tokenization

/// The serving library's pure parts: counter export and the choice of chat template.
@Suite struct ServingTests {
    /// The engine's running totals become Prometheus counters: only increases are exported.
    @Test func countersExportWhatGrew() {
        var e = CounterExport()
        #expect(e.advance(to: [1, 0, 3]) == [1, 0, 3])
        #expect(e.advance(to: [1, 2, 3]) == [0, 2, 0])
        #expect(e.advance(to: [0, 2, 5]) == [0, 0, 2])  // a total that went down exports nothing
    }

    static func tokenizer(_ specials: [String]) throws -> Tokenizer {
        let tokens = ["<unk>", "<s>", "</s>"] + specials + ["▁a"]
        let types: [Int32] = [2, 3, 3] + specials.map { _ in 3 } + [1]
        return try Tokenizer(vocabulary: TokenizerVocabulary(model: .llama, tokens: tokens, scores: tokens.map { _ in 0 },
                                                             tokenTypes: types, bosID: 1, eosID: 2, unknownID: 0))
    }

    static func metadata(template: String?) throws -> GGUFMetadata {
        var w = GGUFWriter()
        w.set("general.architecture", .string("llama"))
        if let template { w.set("tokenizer.chat_template", .string(template)) }
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("serving-meta-\(getpid())-\(UUID().uuidString).gguf")
        try Data(w.encoded()).write(to: path)
        defer { try? FileManager.default.removeItem(at: path) }
        return try GGUFFile(path: path.path).metadata
    }

    @Test func theConfiguredTemplateWins() throws {
        let choice = ChatTemplateChoice(configured: "chatml", metadata: try Self.metadata(template: "<start_of_turn>"),
                                        tokenizer: try Self.tokenizer([]))
        #expect(choice.template == .chatml && choice.problem == nil)
    }

    @Test func theModelsTemplateIsRecognised() throws {
        let choice = ChatTemplateChoice(configured: nil, metadata: try Self.metadata(template: "{{ '<|im_start|>' + role }}"),
                                        tokenizer: try Self.tokenizer([]))
        #expect(choice.template == .chatml && choice.note == nil)
    }

    /// Gemma 3 270M's GGUF has no template: its turn tokens decide.
    @Test func withoutATemplateTheVocabularyDecides() throws {
        let choice = ChatTemplateChoice(configured: nil, metadata: try Self.metadata(template: nil),
                                        tokenizer: try Self.tokenizer(["<start_of_turn>", "<end_of_turn>"]))
        #expect(choice.template == .gemma && choice.note?.contains("no chat template") == true)
    }

    @Test func anUnknownTemplateIsAProblemChatRequestsReport() throws {
        let choice = ChatTemplateChoice(configured: nil, metadata: try Self.metadata(template: "{{ weird }}"),
                                        tokenizer: try Self.tokenizer(["<start_of_turn>"]))
        #expect(choice.template == nil && choice.problem?.contains("not one pipeserve recognises") == true)
    }
}

/// Which stages share CPUs with another stage (their idle threads then sleep soon).
@Suite struct SharedCPUTests {
    @Test func pinnedStagesShareWhenTheirListsOverlapOrRepeat() {
        #expect(sharedCPUs([[0], [1]], threads: 1, usableCPUs: 2) == [false, false])
        #expect(sharedCPUs([[0, 1], [0, 1]], threads: 2, usableCPUs: 2) == [true, true])
        #expect(sharedCPUs([[0, 1], [2, 3], [3, 4]], threads: 2, usableCPUs: 8) == [false, true, true])
        #expect(sharedCPUs([[0, 0]], threads: 2, usableCPUs: 1) == [true])
    }

    @Test func unpinnedStagesShareWhenThreadsOutnumberTheCPUs() {
        #expect(sharedCPUs([[], []], threads: 1, usableCPUs: 2) == [false, false])
        #expect(sharedCPUs([[], []], threads: 2, usableCPUs: 2) == [true, true])
        #expect(sharedCPUs([[]], threads: 2, usableCPUs: 2) == [false])
    }
}
