// The four renderers. Without tools and tool calls each renders exactly its family's plain chat
// format; tools and calls use the texts of `ChatTemplate+Tools`.

extension ChatTemplate {
    /// Gemma 3: no system role (system text opens the first user turn), "model" for the assistant.
    /// Tools: after the system text in the first user turn.
    func renderGemma(_ messages: [Message], tools: [Tool], into out: inout ChatPrompt) {
        var pendingSystem = ""
        var pendingTools = !tools.isEmpty
        func userTurn(_ text: String) {
            out.markup("<start_of_turn>user\n")
            if pendingTools {
                pendingTools = false
                let system = pendingSystem.trimmingWhitespace()
                if !system.isEmpty {
                    out.content(system)
                    out.markup("\n\n")
                }
                Self.jsonTools(tools, into: &out)
                out.content(text.trimmingWhitespace())
            } else {
                out.content((pendingSystem + text).trimmingWhitespace())
            }
            pendingSystem = ""
            out.markup("<end_of_turn>\n")
        }
        for m in messages {
            switch m.role {
            case "system":
                pendingSystem += m.content + "\n\n"
            case "assistant":
                out.markup("<start_of_turn>model\n")
                Self.bareTurn(m, separator: "\n", into: &out)
                out.markup("<end_of_turn>\n")
            default:
                userTurn(m.content)
            }
        }
        if !pendingSystem.isEmpty || pendingTools { userTurn("") }
        out.markup("<start_of_turn>model\n")
    }

    /// Llama 3.x. Tools: a system turn opening with Meta's tool environment lines (and the first
    /// system message), the tool block at the start of the first user message.
    func renderLlama3(_ messages: [Message], tools: [Tool], into out: inout ChatPrompt) {
        var rest = messages[...]
        var pendingTools = !tools.isEmpty
        if pendingTools {
            out.markup("<|start_header_id|>system<|end_header_id|>\n\n" + Self.llama3ToolEnvironment)
            if let first = rest.first, first.role == "system" {
                out.content(first.content.trimmingWhitespace())
                rest = rest.dropFirst()
            }
            out.markup("<|eot_id|>")
        }
        for m in rest {
            out.markup("<|start_header_id|>\(m.role == "tool" ? "ipython" : m.role)<|end_header_id|>\n\n")
            if pendingTools && m.role == "user" {
                pendingTools = false
                Self.llama3Tools(tools, into: &out)
            }
            Self.bareTurn(m, separator: "; ", into: &out)
            out.markup("<|eot_id|>")
        }
        if pendingTools {
            out.markup("<|start_header_id|>user<|end_header_id|>\n\n")
            Self.llama3Tools(tools, into: &out)
            out.markup("<|eot_id|>")
        }
        out.markup("<|start_header_id|>assistant<|end_header_id|>\n\n")
    }

    /// ChatML (Qwen 2.5 and others). Tools: Qwen's `# Tools` block in the system turn (after the
    /// first system message); consecutive tool results share one user turn, as in Qwen's template.
    func renderChatML(_ messages: [Message], tools: [Tool], into out: inout ChatPrompt) {
        var rest = messages[...]
        if !tools.isEmpty {
            out.markup("<|im_start|>system\n")
            if let first = rest.first, first.role == "system" {
                out.content(first.content)
                out.markup("\n\n")
                rest = rest.dropFirst()
            }
            Self.chatMLTools(tools, into: &out)
            out.markup("<|im_end|>\n")
        }
        let list = Array(rest)
        for (i, m) in list.enumerated() {
            if m.role == "tool" {
                if i == 0 || list[i - 1].role != "tool" { out.markup("<|im_start|>user") }
                out.markup("\n<tool_response>\n")
                out.content(m.content)
                out.markup("\n</tool_response>")
                if i == list.count - 1 || list[i + 1].role != "tool" { out.markup("<|im_end|>\n") }
            } else if m.role == "assistant" && !m.toolCalls.isEmpty {
                out.markup("<|im_start|>assistant")
                if !m.content.isEmpty {
                    out.markup("\n")
                    out.content(m.content)
                }
                for call in m.toolCalls {
                    out.markup("\n<tool_call>\n")
                    out.content(Self.taggedCall(call))
                    out.markup("\n</tool_call>")
                }
                out.markup("<|im_end|>\n")
            } else {
                out.markup("<|im_start|>\(m.role)\n")
                out.content(m.content)
                out.markup("<|im_end|>\n")
            }
        }
        out.markup("<|im_start|>assistant\n")
    }

    /// Llama 2: `[INST]` turns, the system text in `<<SYS>>` inside the first. Tools: after it.
    func renderLlama2(_ messages: [Message], tools: [Tool], into out: inout ChatPrompt) {
        var system: String?
        var first = true
        var pendingTools = !tools.isEmpty
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
                if pendingTools {
                    pendingTools = false
                    Self.jsonTools(tools, into: &out)
                }
                out.content(m.content.trimmingWhitespace())
                out.markup(" [/INST]")
                first = false
            default:
                out.markup(" ")
                Self.bareTurn(m, separator: "\n", into: &out)
                out.markup(" </s>")
            }
        }
    }
}
