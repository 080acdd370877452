// Tool definitions and tool calls in each family's prompt format. The texts follow the published
// templates: Qwen 2.5's `# Tools` system block (tokenizer_config.json chat_template), Llama 3.1's
// JSON-based tool calling with the tools in the first user message (Meta's chat template), and for
// Gemma 3 — which has no tool format of its own — the JSON variant of Google's "Function calling
// with Gemma" guide, which Llama 2 (no tool format either) shares. The HTTP layer parses the
// model's calls back out of its text in the same syntax (OpenAIServer's `ToolCallParser`).

extension ChatTemplate {
    /// How this family's model writes a tool call (what its tool instructions ask for).
    public enum ToolCallSyntax: Sendable, Equatable {
        /// `<tool_call>\n{"name": …, "arguments": {…}}\n</tool_call>` blocks, after optional text
        /// (Qwen 2.5 and other ChatML models trained on the Hermes format).
        case taggedJSON
        /// The whole reply is `{"name": …, "parameters": {…}}` (several calls one after another).
        case bareJSON
    }

    /// The syntax the model is asked to write tool calls in.
    public var toolCallSyntax: ToolCallSyntax {
        self == .chatml ? .taggedJSON : .bareJSON
    }

    /// OpenAI's tool object around a declaration: `{"type": "function", "function": {…}}`.
    static func toolObject(_ tool: Tool) -> String {
        #"{"type":"function","function":"# + tool.function + "}"
    }

    // MARK: Qwen 2.5 (ChatML)

    static let chatMLToolsHeader = """
        # Tools

        You may call one or more functions to assist with the user query.

        You are provided with function signatures within <tools></tools> XML tags:
        <tools>
        """

    static let chatMLToolsFooter = """

        </tools>

        For each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:
        <tool_call>
        {"name": <function-name>, "arguments": <args-json-object>}
        </tool_call>
        """

    /// The system turn's tool block: one tool object per line (`tojson`) inside `<tools>`.
    static func chatMLTools(_ tools: [Tool], into out: inout ChatPrompt) {
        out.markup(chatMLToolsHeader)
        for tool in tools {
            out.markup("\n")
            out.content(JSONLayout.spaced(toolObject(tool)))
        }
        out.markup(chatMLToolsFooter)
    }

    /// A call inside `<tool_call>` tags, as Qwen's template renders an assistant's `tool_calls`.
    static func taggedCall(_ call: ToolCall) -> String {
        #"{"name": "# + JSONLayout.quoted(call.name) + #", "arguments": "# + JSONLayout.spaced(call.arguments) + "}"
    }

    // MARK: Llama 3.1

    /// The system turn's opening when tools are given (Meta's 3.1 template; its fixed date).
    static let llama3ToolEnvironment = "Environment: ipython\nCutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n"

    static let llama3ToolsHeader = """
        Given the following functions, please respond with a JSON for a function call with its proper arguments that best answers the given prompt.

        Respond in the format {"name": function name, "parameters": dictionary of argument name and its value}. Do not use variables.


        """

    /// The block that opens the first user message: the instruction, then each tool object
    /// (`tojson(indent=4)`) followed by a blank line.
    static func llama3Tools(_ tools: [Tool], into out: inout ChatPrompt) {
        out.markup(llama3ToolsHeader)
        for tool in tools {
            out.content(JSONLayout.indented(toolObject(tool), by: 4))
            out.markup("\n\n")
        }
    }

    // MARK: Gemma 3 and Llama 2

    static let jsonToolsHeader = """
        You have access to functions. If you decide to invoke any of the function(s), you MUST put it in the format of
        {"name": function name, "parameters": dictionary of argument name and its value}

        You SHOULD NOT include any other text in the response if you call a function

        """

    /// The block that opens the first user turn (Google's Gemma guide, JSON variant): the
    /// instruction, then the declarations as a JSON array (`indent=2`), then a line break.
    static func jsonTools(_ tools: [Tool], into out: inout ChatPrompt) {
        out.markup(jsonToolsHeader)
        out.content(JSONLayout.indented("[" + tools.map(\.function).joined(separator: ",") + "]", by: 2))
        out.markup("\n")
    }

    /// A call as the bare-JSON families write it (Llama 3.1's template renders a past call so).
    static func bareCall(_ call: ToolCall) -> String {
        #"{"name": "# + JSONLayout.quoted(call.name) + #", "parameters": "# + JSONLayout.spaced(call.arguments) + "}"
    }

    /// An assistant turn's text and calls for the bare-JSON families: the text, a line break,
    /// then the calls joined by `separator`.
    static func bareTurn(_ m: Message, separator: String, into out: inout ChatPrompt) {
        let text = m.content.trimmingWhitespace()
        out.content(text)
        guard !m.toolCalls.isEmpty else { return }
        if !text.isEmpty { out.content("\n") }
        out.content(m.toolCalls.map(bareCall).joined(separator: separator))
    }
}
