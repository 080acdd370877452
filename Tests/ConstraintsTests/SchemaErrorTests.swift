import Testing

@testable import Constraints

/// Every class of bad schema is a typed error naming the keyword's path.
@Suite struct SchemaErrorTests {
    @Test func unsupportedKeywordsNameTheirPath() {
        let schema = #"{"type":"object","properties":{"age":{"type":"number","minimum":0}},"required":["age"],"additionalProperties":false}"#
        #expect(schemaError(schema) == .unsupportedKeyword(
            keyword: "minimum", path: "properties.age.minimum",
            reason: "structured output cannot enforce it (without \"strict\": true it is ignored)"))
        // Not strict: the refinement is ignored.
        #expect(schemaError(schema, strict: false) == nil)
        let structural = #"{"type":"object","properties":{"a":{"not":{"type":"string"}}}}"#
        #expect(schemaError(structural, strict: false)?.path == "properties.a.not")
        #expect(schemaError(#"{"type":"string","pattern":"(?=a)b"}"#)?.path == "pattern")
        #expect(schemaError(#"{"type":"string","format":"email"}"#)?.path == "format")
        #expect(schemaError(#"{"type":"string","format":"email"}"#, strict: false) == nil)
        #expect(schemaError(#"{"type":"array","items":{"type":"string","x-custom":1}}"#)?.path == "items.x-custom")
        #expect(schemaError(#"{"type":"array","items":{"type":"string","x-custom":1}}"#, strict: false) == nil)
        #expect(schemaError(#"{"oneOf":[{"type":"string"},{"type":"integer"}]}"#)?.path == "oneOf")
        #expect(schemaError(#"{"oneOf":[{"type":"string"},{"type":"integer"}]}"#, strict: false) == nil)
        #expect(schemaError(#"{"allOf":[{"type":"string"},{"maxLength":3}]}"#)?.path == "allOf")
        #expect(schemaError(#"{"anyOf":[{"type":"string"}],"type":"string"}"#)?.path == "type")
        #expect(schemaError(##"{"$ref":"#/$defs/a","$defs":{"a":{"type":"object","patternProperties":{}}}}"##)?.path == "$defs.a.patternProperties")
        #expect(schemaError(#"{"$ref":"https://example.com/schema.json"}"#)?.path == "$ref")
    }

    @Test func invalidSchemasNameTheirPath() {
        #expect(schemaError(#"{"type":"strin"}"#)?.path == "type")
        #expect(schemaError(#"{"type":3}"#)?.path == "type")
        #expect(schemaError(#"{"type":"object","properties":[]}"#)?.path == "properties")
        #expect(schemaError(#"{"type":"object","properties":{"a":3}}"#)?.path == "properties.a")
        #expect(schemaError(#"{"type":"object","required":"a"}"#)?.path == "required")
        #expect(schemaError(#"{"type":"object","properties":{},"required":["a"],"additionalProperties":false}"#)?.path == "required")
        #expect(schemaError(#"{"type":"array","minItems":-1}"#)?.path == "minItems")
        #expect(schemaError(#"{"type":"array","maxItems":1.5}"#)?.path == "maxItems")
        #expect(schemaError(##"{"$ref":"#/$defs/missing"}"##)?.path == "$ref")
        #expect(schemaError(#"{"anyOf":[]}"#)?.path == "anyOf")
        #expect(schemaError(#"{"enum":"a"}"#)?.path == "enum")
        #expect(schemaError("3")?.path == "")
    }

    @Test func schemasThatAcceptNothing() {
        #expect(schemaError(#"{"enum":[]}"#) == .acceptsNothing(path: ""))
        #expect(schemaError(#"{"type":"array","minItems":3,"maxItems":2}"#) == .acceptsNothing(path: ""))
        #expect(schemaError(#"{"type":"object","properties":{"a":false},"required":["a"]}"#, strict: false) == .acceptsNothing(path: "properties.a"))
        #expect(schemaError("false") == .acceptsNothing(path: ""))
        #expect(schemaError(#"{"type":"string","enum":[1,2]}"#) == .acceptsNothing(path: ""))
        // A recursion without a way out.
        let endless = ##"{"type":"object","properties":{"next":{"$ref":"#"}},"required":["next"],"additionalProperties":false}"##
        #expect(schemaError(endless) == .acceptsNothing(path: ""))
    }

    @Test func invalidJSONHasAnOffset() {
        #expect(schemaError(#"{"type":"string",}"#) == .invalidJSON(message: "expected a string key", offset: 17))
        guard case .invalidJSON = schemaError(#"{"a":"\ud800"}"#) else {
            Issue.record("lone surrogate accepted")
            return
        }
        guard case .invalidJSON = schemaError(#"{"type":"string","type":"integer"}"#) else {
            Issue.record("duplicate key accepted")
            return
        }
    }

    @Test func sizeBoundsGiveTooLarge() {
        var limits = ConstraintLimits()
        limits.maxDFAStates = 500
        let wide = "{\"type\":\"object\",\"properties\":{" + (0..<60).map { "\"p\($0)\":{\"type\":\"string\"}" }.joined(separator: ",")
            + "},\"additionalProperties\":false}"
        guard case .tooLarge = schemaError(wide, limits: limits) else {
            Issue.record("expected tooLarge, got \(String(describing: schemaError(wide, limits: limits)))")
            return
        }
        #expect(schemaError(wide) == nil, "fits the default limits")
        #expect(schemaError(#"{"type":"array","maxItems":100000}"#)?.path == "maxItems")
        #expect(schemaError(#"{"type":"string","maxLength":100000}"#)?.path == "maxLength")
        var nested = #"{"type":"string"}"#
        for _ in 0..<100 { nested = #"{"type":"array","items":"# + nested + "}" }
        guard case .tooLarge = schemaError(nested) else {
            Issue.record("deep nesting accepted")
            return
        }
        var small = ConstraintLimits()
        small.maxSourceBytes = 10
        guard case .tooLarge = schemaError(#"{"type":"string"}"#, limits: small) else {
            Issue.record("long source accepted")
            return
        }
    }

    @Test func exponentialAnyOfIsBoundedInTime() {
        // Alternatives that share long prefixes blow up a subset construction; the work bound
        // must stop it quickly with tooLarge rather than hang.
        let branch = { (i: Int) in
            "{\"type\":\"array\",\"items\":{\"type\":\"string\",\"maxLength\":\(200 + i)},\"maxItems\":\(50 + i)}"
        }
        let schema = "{\"anyOf\":[" + (0..<40).map(branch).joined(separator: ",") + "]}"
        let clock = ContinuousClock()
        var error: ConstraintError?
        let elapsed = clock.measure { error = schemaError(schema) }
        if case .tooLarge = error {} else { Issue.record("expected tooLarge, got \(String(describing: error))") }
        // Not a timing assertion: printed for the review note.
        print("exponential anyOf refused in \(elapsed)")
    }
}
