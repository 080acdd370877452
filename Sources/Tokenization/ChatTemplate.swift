/// Chat prompt formats. The model's `tokenizer.chat_template` (a Jinja template in the GGUF) is
/// recognised by its marker tokens and rendered by a built-in renderer — we do not run Jinja.
/// Renderers follow each family's published template (Gemma 3, Llama 3, ChatML/Qwen, Llama 2).
/// The result is tokenized with BOS added by the tokenizer and special tokens parsed only in the
/// template's own markup (`renderPrompt`, `Tokenizer.encode(_ chat:)`), never in message content.
public enum ChatTemplate: String, Sendable, CaseIterable {
    case gemma, llama3, chatml, llama2

    /// One chat message (`role` is system, user, assistant or tool: a tool call's result).
    public struct Message: Sendable, Equatable {
        public var role: String
        public var content: String
        /// The calls an assistant message made (rendered after its content in the family's syntax).
        public var toolCalls: [ToolCall]
        public init(role: String, content: String, toolCalls: [ToolCall] = []) {
            self.role = role
            self.content = content
            self.toolCalls = toolCalls
        }
    }

    /// A function the model may call, as the request declared it.
    public struct Tool: Sendable, Equatable {
        public var name: String
        /// The declaration as compact JSON: `{"name": …, "description": …, "parameters": {…}}`
        /// (the `function` member of an OpenAI tool).
        public var function: String
        public init(name: String, function: String) { self.name = name; self.function = function }
    }

    /// A call an assistant message made.
    public struct ToolCall: Sendable, Equatable {
        public var name: String
        /// The arguments as compact JSON (an object, normally).
        public var arguments: String
        public init(name: String, arguments: String) { self.name = name; self.arguments = arguments }
    }

    public enum TemplateError: Error, CustomStringConvertible, Equatable {
        case unrecognised(String)
        case missingTemplate
        case badRole(String)
        case empty

        public var description: String {
            switch self {
            case let .unrecognised(snippet):
                return "the model's chat template is not one pipeserve recognises (starts with \"\(snippet)\"); set chat_template to one of gemma, llama3, chatml, llama2 in the configuration"
            case .missingTemplate:
                return "the model has no chat template (tokenizer.chat_template); set chat_template to one of gemma, llama3, chatml, llama2 in the configuration"
            case let .badRole(r): return "unsupported message role '\(r)' (system, user, assistant, tool)"
            case .empty: return "messages must not be empty"
            }
        }
    }

    /// Recognises the family of a Jinja chat template from the special tokens it emits.
    public static func recognise(_ jinja: String?) throws -> ChatTemplate {
        guard let t = jinja, !t.isEmpty else { throw TemplateError.missingTemplate }
        if t.contains("<start_of_turn>") { return .gemma }
        if t.contains("<|start_header_id|>") { return .llama3 }
        if t.contains("<|im_start|>") { return .chatml }
        if t.contains("[INST]") { return .llama2 }
        throw TemplateError.unrecognised(String(t.prefix(40)))
    }

    /// For a model without `tokenizer.chat_template` (Gemma 3 270M's GGUF has none): the family
    /// whose marker tokens are special tokens of the vocabulary, if exactly one family's are.
    public static func infer(fromVocabulary tokenizer: Tokenizer) -> ChatTemplate? {
        func isSingleToken(_ text: String) -> Bool { tokenizer.encode(text, addSpecial: false, parseSpecial: true).count == 1 }
        let found = [(ChatTemplate.gemma, "<start_of_turn>"), (.llama3, "<|start_header_id|>"), (.chatml, "<|im_start|>")]
            .filter { isSingleToken($0.1) }.map(\.0)
        return found.count == 1 ? found[0] : nil
    }

    /// Renders messages into the prompt text, ending where the assistant's reply begins.
    public func render(_ messages: [Message], tools: [Tool] = []) throws -> String {
        try renderPrompt(messages, tools: tools).text
    }

    /// Renders messages, keeping apart the template's markup (which may be parsed for control
    /// tokens) and the messages' content (which must not be).
    ///
    /// `tools` are the functions the model may call: each family's template describes them where
    /// its published template does (`ChatTemplate+Tools`); none are rendered when empty, and the
    /// prompt is then exactly what it was without tool support. An assistant message's
    /// `toolCalls` are rendered in the family's call syntax. A tool result (role "tool") is
    /// rendered as each family's published template does, where it has one: Llama 3.1's `ipython`
    /// turn, Qwen 2.5's user turn wrapped in `<tool_response>`; Gemma and Llama 2 have no tool
    /// role, so the result comes back as a user turn (Gemma's function-calling guide does the same).
    public func renderPrompt(_ messages: [Message], tools: [Tool] = []) throws -> ChatPrompt {
        guard !messages.isEmpty else { throw TemplateError.empty }
        for m in messages where !["system", "user", "assistant", "tool"].contains(m.role) { throw TemplateError.badRole(m.role) }
        var out = ChatPrompt()
        switch self {
        case .gemma: renderGemma(messages, tools: tools, into: &out)
        case .llama3: renderLlama3(messages, tools: tools, into: &out)
        case .chatml: renderChatML(messages, tools: tools, into: &out)
        case .llama2: renderLlama2(messages, tools: tools, into: &out)
        }
        return out
    }
}

extension String {
    func trimmingWhitespace() -> String {
        var s = Substring(self)
        while let f = s.first, f.isWhitespace { s.removeFirst() }
        while let l = s.last, l.isWhitespace { s.removeLast() }
        return String(s)
    }
}
