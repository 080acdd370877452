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
        public init(role: String, content: String) { self.role = role; self.content = content }
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
    public func render(_ messages: [Message]) throws -> String {
        try renderPrompt(messages).text
    }

    /// Renders messages, keeping apart the template's markup (which may be parsed for control
    /// tokens) and the messages' content (which must not be).
    ///
    /// A tool result (role "tool") is rendered as each family's published template does, where it
    /// has one: Llama 3.1's `ipython` turn, Qwen 2.5's user turn wrapped in `<tool_response>`; Gemma
    /// and Llama 2 have no tool role, so the result comes back as a user turn (Gemma's
    /// function-calling guide does the same).
    public func renderPrompt(_ messages: [Message]) throws -> ChatPrompt {
        guard !messages.isEmpty else { throw TemplateError.empty }
        for m in messages where !["system", "user", "assistant", "tool"].contains(m.role) { throw TemplateError.badRole(m.role) }
        var out = ChatPrompt()
        switch self {
        case .gemma:
            // Gemma has no system role: the system text opens the first user turn.
            var pendingSystem = ""
            for m in messages {
                if m.role == "system" { pendingSystem += m.content + "\n\n"; continue }
                let role = m.role == "assistant" ? "model" : "user"
                var content = m.content
                if role == "user" && !pendingSystem.isEmpty { content = pendingSystem + content; pendingSystem = "" }
                out.markup("<start_of_turn>\(role)\n")
                out.content(content.trimmingWhitespace())
                out.markup("<end_of_turn>\n")
            }
            if !pendingSystem.isEmpty {
                out.markup("<start_of_turn>user\n")
                out.content(pendingSystem.trimmingWhitespace())
                out.markup("<end_of_turn>\n")
            }
            out.markup("<start_of_turn>model\n")
        case .llama3:
            for m in messages {
                out.markup("<|start_header_id|>\(m.role == "tool" ? "ipython" : m.role)<|end_header_id|>\n\n")
                out.content(m.content.trimmingWhitespace())
                out.markup("<|eot_id|>")
            }
            out.markup("<|start_header_id|>assistant<|end_header_id|>\n\n")
        case .chatml:
            for m in messages {
                if m.role == "tool" {
                    out.markup("<|im_start|>user\n<tool_response>\n")
                    out.content(m.content)
                    out.markup("\n</tool_response><|im_end|>\n")
                    continue
                }
                out.markup("<|im_start|>\(m.role)\n")
                out.content(m.content)
                out.markup("<|im_end|>\n")
            }
            out.markup("<|im_start|>assistant\n")
        case .llama2:
            var system: String?
            var first = true
            for m in messages {
                switch m.role {
                case "system": system = m.content
                case "user", "tool":
                    out.markup((first ? "" : "<s>") + "[INST] ")
                    if let s = system {
                        out.markup("<<SYS>>\n")
                        out.content(s)
                        out.markup("\n<</SYS>>\n\n")
                        system = nil
                    }
                    out.content(m.content.trimmingWhitespace())
                    out.markup(" [/INST]")
                    first = false
                default:
                    out.markup(" ")
                    out.content(m.content.trimmingWhitespace())
                    out.markup(" </s>")
                }
            }
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
