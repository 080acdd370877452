/// How a model family writes a tool call in its text, as its chat template asks it to: what
/// `ToolCallParser` looks for when `tool_choice` is "auto".
public enum ToolCallFormat: String, Sendable, CaseIterable {
    /// Hermes-style blocks, after optional text: `<tool_call>\n{"name": "f", "arguments": {…}}\n</tool_call>`,
    /// one block per call (Qwen 2.5 and other ChatML models).
    case taggedJSON
    /// The whole reply is the call, `{"name": "f", "parameters": {…}}`; several calls follow one
    /// another (separated by `;` or whitespace) or form a JSON array (Llama 3.1's JSON tool
    /// calling; Gemma 3 and Llama 2 are asked for the same).
    case bareJSON
}
