import Testing

@testable import Constraints

/// Whether `grammar` accepts exactly `text` (all bytes consumed and the output may end).
func accepts(_ grammar: CompiledGrammar, _ text: String) -> Bool {
    accepts(grammar, Array(text.utf8))
}

func accepts(_ grammar: CompiledGrammar, _ bytes: [UInt8]) -> Bool {
    var state = grammar.start()
    return state.advance(bytes) && state.isAccepting
}

func schemaGrammar(_ schema: String, strict: Bool = true, limits: ConstraintLimits = .default) throws -> CompiledGrammar {
    try ConstraintCompiler.jsonSchema(schema, strict: strict, limits: limits)
}

/// Checks every accepted and rejected text, naming the first that disagrees.
func expectTable(
    _ grammar: CompiledGrammar, accept: [String], reject: [String], sourceLocation: SourceLocation = #_sourceLocation
) {
    for text in accept {
        #expect(accepts(grammar, text), "should accept: \(text)", sourceLocation: sourceLocation)
    }
    for text in reject {
        #expect(!accepts(grammar, text), "should reject: \(text)", sourceLocation: sourceLocation)
    }
}

/// The error compiling `schema` throws (nil if it compiles).
func schemaError(_ schema: String, strict: Bool = true, limits: ConstraintLimits = .default) -> ConstraintError? {
    do {
        _ = try ConstraintCompiler.jsonSchema(schema, strict: strict, limits: limits)
        return nil
    } catch {
        return error
    }
}

func grammarError(_ text: String, limits: ConstraintLimits = .default) -> ConstraintError? {
    do {
        _ = try ConstraintCompiler.grammar(text, limits: limits)
        return nil
    } catch {
        return error
    }
}
