/// A shape the generated text must have (structured output), as the client described it.
///
/// It travels as source text, not as a compiled automaton: the automaton and its token tables
/// belong to the vocabulary on the stage that samples, which compiles it there (the `Constraints`
/// module; the HTTP layer compiles it once too, only to answer 400 for bad input). Text keeps
/// the wire small and versionable, and a replay after a stage restart only has to send it again.
public enum OutputConstraint: Sendable, Hashable, Codable {
    /// Any JSON object (`response_format: {"type": "json_object"}`).
    case jsonObject
    /// A JSON document valid against `schema`: compact JSON text whose object keys keep the
    /// client's order (generated properties follow it). `strict` is OpenAI's flag: when true,
    /// every keyword must be enforced (unsupported ones are refused); when false, value refinements
    /// that cannot be enforced (`minimum`, `maxLength`, unknown `format`s, ...) are ignored.
    case jsonSchema(schema: String, strict: Bool)
    /// A GBNF grammar (llama.cpp's `grammar` field), whose `root` rule the output must match.
    case grammar(String)
}
