import Testing
@testable import Tokenization

@Suite struct ChatTemplateTests {
    let chat: [ChatTemplate.Message] = [
        .init(role: "system", content: "Be brief."), .init(role: "user", content: "Hi"),
        .init(role: "assistant", content: "Hello!"), .init(role: "user", content: "Name a colour."),
    ]

    @Test func recognisesFamiliesFromTheirTemplates() throws {
        #expect(try ChatTemplate.recognise("{{ '<start_of_turn>' + role }}") == .gemma)
        #expect(try ChatTemplate.recognise("<|start_header_id|>{{ role }}") == .llama3)
        #expect(try ChatTemplate.recognise("{% for m in messages %}<|im_start|>") == .chatml)
        #expect(try ChatTemplate.recognise("[INST] {{ x }} [/INST]") == .llama2)
        #expect(throws: ChatTemplate.TemplateError.missingTemplate) { try ChatTemplate.recognise(nil) }
        #expect(throws: ChatTemplate.TemplateError.self) { try ChatTemplate.recognise("{{ weird }}") }
    }

    @Test func gemmaFoldsSystemIntoTheFirstUserTurn() throws {
        let s = try ChatTemplate.gemma.render(chat)
        #expect(s == "<start_of_turn>user\nBe brief.\n\nHi<end_of_turn>\n<start_of_turn>model\nHello!<end_of_turn>\n"
            + "<start_of_turn>user\nName a colour.<end_of_turn>\n<start_of_turn>model\n")
    }

    @Test func otherFamilies() throws {
        #expect(try ChatTemplate.chatml.render(chat).hasSuffix("<|im_start|>user\nName a colour.<|im_end|>\n<|im_start|>assistant\n"))
        #expect(try ChatTemplate.llama3.render([.init(role: "user", content: "Hi")])
            == "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n")
        #expect(try ChatTemplate.llama2.render(chat) == "[INST] <<SYS>>\nBe brief.\n<</SYS>>\n\nHi [/INST] Hello! </s><s>[INST] Name a colour. [/INST]")
    }

    @Test func badInput() {
        #expect(throws: ChatTemplate.TemplateError.empty) { try ChatTemplate.gemma.render([]) }
        #expect(throws: ChatTemplate.TemplateError.badRole("tool")) { try ChatTemplate.chatml.render([.init(role: "tool", content: "x")]) }
    }
}

@Suite struct ChatTemplateInferenceTests {
    @Test func infersTheFamilyFromSpecialTokens() throws {
        let gemma = TokenizerVocabulary(model: .llama, tokens: ["<unk>", "<s>", "</s>", "<start_of_turn>", "<end_of_turn>", "▁a"],
                                        scores: [0, 0, 0, 0, 0, -1], tokenTypes: [2, 3, 3, 3, 3, 1], bosID: 1, eosID: 2, unknownID: 0)
        #expect(ChatTemplate.infer(fromVocabulary: try Tokenizer(vocabulary: gemma)) == .gemma)
        let plain = TokenizerVocabulary(model: .llama, tokens: ["<unk>", "<s>", "</s>", "▁a"], scores: [0, 0, 0, -1],
                                        tokenTypes: [2, 3, 3, 1], bosID: 1, eosID: 2, unknownID: 0)
        #expect(ChatTemplate.infer(fromVocabulary: try Tokenizer(vocabulary: plain)) == nil)
    }
}
