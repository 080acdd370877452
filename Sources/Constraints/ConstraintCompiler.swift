import ServingTypes

/// Compiles constraints to automata. Compiling is pure and deterministic, bounded by
/// `ConstraintLimits` in time and memory; compile once per distinct constraint and share the
/// result (it is immutable).
public enum ConstraintCompiler {
    /// The automaton of `constraint`.
    public static func compile(_ constraint: OutputConstraint, limits: ConstraintLimits = .default) throws(ConstraintError) -> CompiledGrammar {
        switch constraint {
        case .jsonObject:
            return try jsonObject(limits: limits)
        case .jsonSchema(let schema, let strict):
            return try jsonSchema(schema, strict: strict, limits: limits)
        case .grammar(let text):
            return try grammar(text, limits: limits)
        }
    }

    /// Any JSON object.
    public static func jsonObject(limits: ConstraintLimits = .default) throws(ConstraintError) -> CompiledGrammar {
        try GrammarCompiler(limits: limits).compile(JSONGrammar.objectDefinition())
    }

    /// JSON valid against the schema in `text` (see `JSONSchemaTranslator` for the subset).
    public static func jsonSchema(_ text: String, strict: Bool, limits: ConstraintLimits = .default) throws(ConstraintError) -> CompiledGrammar {
        let schema = try JSONNodeParser.parse(text, limits: limits)
        var translator = JSONSchemaTranslator(root: schema, strict: strict, limits: limits)
        return try GrammarCompiler(limits: limits).compile(try translator.translate())
    }

    /// Text matching the `root` rule of a GBNF grammar.
    public static func grammar(_ text: String, limits: ConstraintLimits = .default) throws(ConstraintError) -> CompiledGrammar {
        try GrammarCompiler(limits: limits).compile(try GBNFParser.parse(text, limits: limits))
    }
}
