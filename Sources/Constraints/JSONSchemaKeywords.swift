/// How the schema translator treats each JSON Schema keyword.
enum JSONSchemaKeywords {
    /// Ignored: they describe, they do not constrain.
    static let annotations: Set<String> = [
        "title", "description", "$comment", "examples", "example", "default", "deprecated", "readOnly", "writeOnly",
        "$schema", "$id", "$defs", "definitions",
    ]

    /// Enforced by the automaton (some only for certain values: see the translator).
    static let supported: Set<String> = [
        "type", "enum", "const", "anyOf", "oneOf", "allOf", "$ref",
        "properties", "required", "additionalProperties",
        "items", "prefixItems", "additionalItems", "minItems", "maxItems",
        "minLength", "maxLength", "format", "pattern",
    ]

    /// Refinements of a value the automaton does not enforce: refused when strict, ignored
    /// otherwise (the output then has the schema's structure but may miss the refinement).
    static let refinements: Set<String> = [
        "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf",
        "minProperties", "maxProperties", "uniqueItems", "minContains", "maxContains",
        "contentEncoding", "contentMediaType", "contentSchema",
    ]

    /// Keywords that change which structures are valid in ways the automaton cannot express:
    /// always refused.
    static let structural: Set<String> = [
        "not", "if", "then", "else", "patternProperties", "dependentRequired", "dependentSchemas", "dependencies",
        "propertyNames", "unevaluatedProperties", "unevaluatedItems", "contains",
        "$anchor", "$dynamicRef", "$dynamicAnchor", "$recursiveRef", "$recursiveAnchor", "$vocabulary",
    ]

    /// Keywords that imply the instance type when `type` is absent.
    static let objectKeywords: Set<String> = ["properties", "required", "additionalProperties"]
    static let arrayKeywords: Set<String> = ["items", "prefixItems", "additionalItems", "minItems", "maxItems"]
    static let stringKeywords: Set<String> = ["minLength", "maxLength", "format", "pattern"]

    static let typeNames: [String] = ["object", "array", "string", "number", "integer", "boolean", "null"]

    /// `format` values the translator enforces.
    static let formats: Set<String> = ["date-time", "date", "time", "uuid"]
}
