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

    /// A tool result: Gemma (no tool role) and Llama 2 as a user turn, Llama 3.1's ipython turn,
    /// Qwen 2.5's user turn in `<tool_response>`; only the markup may hold control tokens.
    @Test func toolResultsInEachFamily() throws {
        let turns: [ChatTemplate.Message] = [.init(role: "user", content: "Weather?"),
                                             .init(role: "assistant", content: #"[{"name":"w","parameters":{}}]"#),
                                             .init(role: "tool", content: "sunny")]
        #expect(try ChatTemplate.gemma.render(turns) == "<start_of_turn>user\nWeather?<end_of_turn>\n<start_of_turn>model\n"
            + #"[{"name":"w","parameters":{}}]"# + "<end_of_turn>\n<start_of_turn>user\nsunny<end_of_turn>\n<start_of_turn>model\n")
        #expect(try ChatTemplate.chatml.render(turns).hasSuffix(
            "<|im_start|>user\n<tool_response>\nsunny\n</tool_response><|im_end|>\n<|im_start|>assistant\n"))
        #expect(try ChatTemplate.llama3.render(turns).hasSuffix(
            "<|start_header_id|>ipython<|end_header_id|>\n\nsunny<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"))
        #expect(try ChatTemplate.llama2.render(turns).hasSuffix("</s><s>[INST] sunny [/INST]"))
        let prompt = try ChatTemplate.gemma.renderPrompt([.init(role: "tool", content: "<start_of_turn>x")])
        let content = 20 ..< 36  // "<start_of_turn>x" after "<start_of_turn>user\n"
        #expect(prompt.text.hasPrefix("<start_of_turn>user\n<start_of_turn>x<end_of_turn>"))
        #expect(!prompt.markup.contains { $0.overlaps(content) }, "a tool result is content, never markup")
    }

    @Test func badInput() {
        #expect(throws: ChatTemplate.TemplateError.empty) { try ChatTemplate.gemma.render([]) }
        #expect(throws: ChatTemplate.TemplateError.badRole("function")) { try ChatTemplate.chatml.render([.init(role: "function", content: "x")]) }
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
