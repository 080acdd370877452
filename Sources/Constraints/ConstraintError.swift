/// Why a constraint could not be compiled. Schema errors carry the JSON path of the offending
/// keyword relative to the schema root (`properties.age.minimum`), so that the HTTP layer can
/// prefix where the schema sits in the request and answer 400 with that `param`; grammar errors
/// carry a line and column (1-based).
public enum ConstraintError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The schema text is not JSON (byte offset of the problem).
    case invalidJSON(message: String, offset: Int)
    /// A JSON Schema keyword this compiler does not enforce (`path` ends with the keyword).
    case unsupportedKeyword(keyword: String, path: String, reason: String)
    /// A keyword with a value of the wrong type or meaning (`"type": 3`, `"$ref": "#/nowhere"`).
    case invalidSchema(message: String, path: String)
    /// Past a size bound (schema nodes, automaton states, compile work): the constraint would
    /// cost too much memory or time to compile.
    case tooLarge(message: String, path: String)
    /// A GBNF syntax error.
    case grammarSyntax(message: String, line: Int, column: Int)
    /// A GBNF rule used but never defined.
    case undefinedRule(name: String, line: Int, column: Int)
    /// A rule that reaches itself before consuming any byte (the recogniser would push forever).
    case leftRecursion(rule: String)
    /// The constraint accepts no output at all (`"enum": []`, a grammar whose root never ends).
    case acceptsNothing(path: String)

    /// Where the problem is: the schema path (possibly empty for the root), nil for grammar
    /// errors located by line and column or by rule name.
    public var path: String? {
        switch self {
        case .unsupportedKeyword(_, let path, _), .invalidSchema(_, let path), .tooLarge(_, let path),
            .acceptsNothing(let path):
            return path
        case .invalidJSON, .grammarSyntax, .undefinedRule, .leftRecursion:
            return nil
        }
    }

    public var description: String {
        switch self {
        case .invalidJSON(let message, let offset):
            return "The schema is not valid JSON at byte \(offset): \(message)."
        case .unsupportedKeyword(let keyword, let path, let reason):
            return "'\(keyword)' (at '\(path)') is not supported\(reason.isEmpty ? "" : ": " + reason)."
        case .invalidSchema(let message, let path):
            return path.isEmpty ? "Invalid schema: \(message)." : "Invalid schema at '\(path)': \(message)."
        case .tooLarge(let message, let path):
            return "The constraint is too large\(path.isEmpty ? "" : " (at '\(path)')"): \(message)."
        case .grammarSyntax(let message, let line, let column):
            return "Grammar syntax error at line \(line), column \(column): \(message)."
        case .undefinedRule(let name, let line, let column):
            return "Grammar rule '\(name)' is used at line \(line), column \(column) but never defined."
        case .leftRecursion(let rule):
            return "Grammar rule '\(rule)' is left-recursive (it can reach itself without consuming input); rewrite it with repetition."
        case .acceptsNothing(let path):
            return "The constraint accepts no output at all\(path.isEmpty ? "" : " (at '\(path)')")."
        }
    }
}
