import Constraints
import Hummingbird
import HummingbirdTesting
import ServingTypes
import Testing

@testable import OpenAIServer

/// `response_format`, `tools`/`tool_choice` and `grammar`: valid ones reach the engine as a
/// constraint, every bad one is a 400 whose `param` says where.
@Suite struct StructuredOutputTests {
    static let chat = #""messages":[{"role":"user","content":"hi"}],"max_tokens":2"#

    /// The constraint the engine received for a chat request with `extra` fields.
    func chatConstraint(_ extra: String, sourceLocation: SourceLocation = #_sourceLocation) async throws -> OutputConstraint? {
        let engine = FakeEngine(contextLength: 4096)  // the tools are rendered into the prompt
        try await withServer(engine: engine) { client in
            let response = try await client.post("/v1/chat/completions", "{" + Self.chat + "," + extra + "}")
            #expect(response.status == .ok, "\(response.text)", sourceLocation: sourceLocation)
        }
        return engine.counters.current.requests.first?.constraint
    }

    func chatError(_ extra: String, param: String, code: String? = nil, sourceLocation: SourceLocation = #_sourceLocation) async throws {
        try await withServer { client in
            try await client.post("/v1/chat/completions", "{" + Self.chat + "," + extra + "}")
                .expectError(.badRequest, code: code, param: param, sourceLocation: sourceLocation)
        }
    }

    // MARK: response_format

    @Test func responseFormatsBecomeConstraints() async throws {
        #expect(try await chatConstraint(#""response_format":{"type":"text"}"#) == nil)
        #expect(try await chatConstraint(#""response_format":{"type":"json_object"}"#) == .jsonObject)
        let constraint = try await chatConstraint(
            #""response_format":{"type":"json_schema","json_schema":{"name":"person","strict":true,"#
                + #""schema":{"type":"object","properties":{"zeta":{"type":"string"},"alpha":{"type":"integer"}},"#
                + #""required":["zeta","alpha"],"additionalProperties":false}}}"#)
        // Keys keep the client's order: properties are generated in it.
        #expect(constraint == .jsonSchema(
            schema: #"{"type":"object","properties":{"zeta":{"type":"string"},"alpha":{"type":"integer"}},"required":["zeta","alpha"],"additionalProperties":false}"#,
            strict: true))
        // Without a schema: any JSON value; without strict: false.
        #expect(try await chatConstraint(#""response_format":{"type":"json_schema","json_schema":{"name":"x"}}"#)
            == .jsonSchema(schema: "{}", strict: false))
        // Not strict: refinements that cannot be enforced are ignored.
        let lenient = try await chatConstraint(
            #""response_format":{"type":"json_schema","json_schema":{"name":"x","schema":{"type":"integer","minimum":0}}}"#)
        #expect(lenient == .jsonSchema(schema: #"{"type":"integer","minimum":0}"#, strict: false))
    }

    @Test func badResponseFormatsAre400() async throws {
        try await chatError(#""response_format":"json""#, param: "response_format", code: "invalid_type")
        try await chatError(#""response_format":{}"#, param: "response_format.type")
        try await chatError(#""response_format":{"type":"xml"}"#, param: "response_format.type", code: "invalid_value")
        try await chatError(#""response_format":{"type":"json_schema"}"#, param: "response_format.json_schema")
        try await chatError(#""response_format":{"type":"json_schema","json_schema":{"schema":{}}}"#, param: "response_format.json_schema.name")
        try await chatError(#""response_format":{"type":"json_schema","json_schema":{"name":"a b"}}"#, param: "response_format.json_schema.name")
        try await chatError(#""response_format":{"type":"json_schema","json_schema":{"name":"x","schema":"{}"}}"#, param: "response_format.json_schema.schema")
        try await chatError(#""response_format":{"type":"json_schema","json_schema":{"name":"x","strict":"yes"}}"#, param: "response_format.json_schema.strict")
        try await chatError(#""response_format":{"type":"json_schema","json_schema":{"name":"x","bogus":1}}"#, param: "response_format.json_schema.bogus", code: "unrecognized_argument")
        try await chatError(#""response_format":{"type":"json_object","schema":{}}"#, param: "response_format.schema", code: "unrecognized_argument")
    }

    @Test func badSchemasAre400NamingTheKeyword() async throws {
        func schema(_ text: String, strict: Bool = true) -> String {
            #""response_format":{"type":"json_schema","json_schema":{"name":"x","strict":\#(strict),"schema":\#(text)}}"#
        }
        let base = "response_format.json_schema.schema"
        try await chatError(
            schema(#"{"type":"object","properties":{"age":{"type":"number","minimum":0}},"required":["age"],"additionalProperties":false}"#),
            param: base + ".properties.age.minimum", code: "unsupported_schema_keyword")
        try await chatError(schema(#"{"type":"object","properties":{"a":{"not":{}}}}"#, strict: false), param: base + ".properties.a.not", code: "unsupported_schema_keyword")
        try await chatError(schema(#"{"type":"strng"}"#), param: base + ".type", code: "invalid_schema")
        try await chatError(schema(##"{"anyOf":[{"type":"string"},{"$ref":"#/$defs/none"}]}"##), param: base + ".anyOf[1].$ref", code: "invalid_schema")
        try await chatError(schema(#"{"enum":[]}"#), param: base, code: "invalid_schema")
        try await chatError(schema(#"{"type":"array","maxItems":1000000}"#), param: base + ".maxItems", code: "constraint_too_large")
        var deep = #"{"type":"string"}"#
        for _ in 0..<80 { deep = #"{"type":"array","items":"# + deep + "}" }
        try await chatError(schema(deep), param: base, code: "constraint_too_large")
        let wide = "{\"anyOf\":[" + (0..<60).map { "{\"type\":\"array\",\"items\":{\"type\":\"string\",\"maxLength\":\(300 + $0)},\"maxItems\":\(60 + $0)}" }
            .joined(separator: ",") + "]}"
        try await chatError(schema(wide), param: base, code: "constraint_too_large")
    }

    // MARK: tools

    static let tools = #""tools":[{"type":"function","function":{"name":"get_weather","description":"Weather","#
        + #""parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"],"additionalProperties":false},"strict":true}},"#
        + #"{"type":"function","function":{"name":"lookup","parameters":{"$defs":{"q":{"type":"object","properties":{"term":{"type":"string"}},"#
        + ##""required":["term"],"additionalProperties":false}},"type":"object","properties":{"query":{"$ref":"#/$defs/q"}},"##
        + #""required":["query"],"additionalProperties":false}}}]"#

    @Test func toolChoicesAndTheirConstraints() async throws {
        #expect(try await chatConstraint(Self.tools) == nil, "auto by default: the model may answer in text")
        #expect(try await chatConstraint(Self.tools + #","tool_choice":"none""#) == nil)
        #expect(try await chatConstraint(Self.tools + #","tool_choice":"auto""#) == nil)
        #expect(try await chatConstraint(#""tool_choice":"none""#) == nil, "none without tools")
        let named = try await chatConstraint(Self.tools + #","tool_choice":{"type":"function","function":{"name":"get_weather"}}"#)
        #expect(named == .jsonSchema(
            schema: #"{"type":"object","properties":{"city":{"type":"string"}},"required":["city"],"additionalProperties":false}"#, strict: true))
        // A forced call wins over a response format.
        let both = try await chatConstraint(Self.tools + #","tool_choice":"required","response_format":{"type":"json_object"}"#)
        guard case .jsonSchema(let schema, let strict)? = both else {
            Issue.record("required tool choice gave \(String(describing: both))")
            return
        }
        #expect(!strict, "strict only when every tool is")
        let grammar = try ConstraintCompiler.jsonSchema(schema, strict: strict)
        func accepts(_ text: String) -> Bool {
            var state = grammar.start()
            return state.advance(Array(text.utf8)) && state.isAccepting
        }
        #expect(accepts(#"[{"name":"get_weather","parameters":{"city":"Oslo"}}]"#))
        #expect(accepts(#"[{"name":"lookup","parameters":{"query":{"term":"x"}}},{"name":"get_weather","parameters":{"city":"Oslo"}}]"#))
        #expect(!accepts(#"[]"#))
        #expect(!accepts(#"[{"name":"other","parameters":{}}]"#))
        #expect(!accepts(#"[{"name":"lookup","parameters":{"query":{"q":"x"}}}]"#), "the $ref was rebased into the combined schema")
        let single = try await chatConstraint(Self.tools + #","tool_choice":"required","parallel_tool_calls":false"#)
        guard case .jsonSchema(let singleSchema, _)? = single else { return }
        var state = try ConstraintCompiler.jsonSchema(singleSchema, strict: false).start()
        let ok = state.advance(Array(#"[{"name":"get_weather","parameters":{"city":"a"}},"#.utf8))
        #expect(!ok, "one call at most without parallel tool calls")
    }

    @Test func badToolsAre400() async throws {
        try await chatError(#""tools":{}"#, param: "tools", code: "invalid_type")
        try await chatError(#""tools":[3]"#, param: "tools[0]", code: "invalid_type")
        try await chatError(#""tools":[{"function":{"name":"f"}}]"#, param: "tools[0].type")
        try await chatError(#""tools":[{"type":"retrieval","function":{"name":"f"}}]"#, param: "tools[0].type", code: "invalid_value")
        try await chatError(#""tools":[{"type":"function"}]"#, param: "tools[0].function")
        try await chatError(#""tools":[{"type":"function","function":{"description":"d"}}]"#, param: "tools[0].function.name")
        try await chatError(#""tools":[{"type":"function","function":{"name":"get weather"}}]"#, param: "tools[0].function.name", code: "invalid_value")
        try await chatError(
            #""tools":[{"type":"function","function":{"name":"f"}},{"type":"function","function":{"name":"f"}}]"#,
            param: "tools[1].function.name", code: "invalid_value")
        try await chatError(#""tools":[{"type":"function","function":{"name":"f","parameters":"{}"}}]"#, param: "tools[0].function.parameters")
        try await chatError(#""tools":[{"type":"function","function":{"name":"f","bogus":1}}]"#, param: "tools[0].function.bogus", code: "unrecognized_argument")
        try await chatError(
            #""tools":[{"type":"function","function":{"name":"f","strict":true,"parameters":{"type":"object","properties":{"n":{"type":"number","maximum":3}}}}}]"#,
            param: "tools[0].function.parameters.properties.n.maximum", code: "unsupported_schema_keyword")
    }

    @Test func badToolChoicesAre400() async throws {
        try await chatError(#""tool_choice":"required""#, param: "tool_choice", code: "invalid_value")
        try await chatError(#""tool_choice":{"type":"function","function":{"name":"f"}}"#, param: "tool_choice", code: "invalid_value")
        try await chatError(Self.tools + #","tool_choice":"always""#, param: "tool_choice", code: "invalid_value")
        try await chatError(Self.tools + #","tool_choice":3"#, param: "tool_choice", code: "invalid_type")
        try await chatError(Self.tools + #","tool_choice":{"type":"function","function":{"name":"nope"}}"#, param: "tool_choice.function.name")
        try await chatError(Self.tools + #","tool_choice":{"type":"function"}"#, param: "tool_choice.function")
        try await chatError(Self.tools + #","tool_choice":{"type":"function","function":{}}"#, param: "tool_choice.function.name")
        try await chatError(Self.tools + #","tool_choice":{"type":"tool","function":{"name":"lookup"}}"#, param: "tool_choice.type")
        try await chatError(Self.tools + #","parallel_tool_calls":"no""#, param: "parallel_tool_calls", code: "invalid_type")
    }

    // MARK: /v1/completions

    func completionConstraint(_ extra: String, sourceLocation: SourceLocation = #_sourceLocation) async throws -> OutputConstraint? {
        let engine = FakeEngine()
        try await withServer(engine: engine) { client in
            let response = try await client.post("/v1/completions", #"{"prompt":"x","max_tokens":1,"# + extra + "}")
            #expect(response.status == .ok, "\(response.text)", sourceLocation: sourceLocation)
        }
        return engine.counters.current.requests.first?.constraint
    }

    @discardableResult
    func completionError(_ extra: String, param: String, code: String? = nil, sourceLocation: SourceLocation = #_sourceLocation) async throws -> JSONValue {
        let error = Locked(JSONValue.null)
        try await withServer { client in
            let body = try await client.post("/v1/completions", #"{"prompt":"x","# + extra + "}")
                .expectError(.badRequest, code: code, param: param, sourceLocation: sourceLocation)
            error.withLock { $0 = body }
        }
        return error.current
    }

    @Test func completionGrammarsAndFormats() async throws {
        #expect(try await completionConstraint(#""grammar":"root ::= \"yes\" | \"no\"""#) == .grammar(#"root ::= "yes" | "no""#))
        #expect(try await completionConstraint(#""grammar":"""#) == nil)
        #expect(try await completionConstraint(#""response_format":{"type":"json_object"}"#) == .jsonObject)
    }

    @Test func badGrammarsAre400WithLineAndColumn() async throws {
        let syntax = try await completionError(#""grammar":"root ::= \"a\"\nitem ::= [a-""#, param: "grammar", code: "invalid_grammar")
        #expect(syntax["message"]?.string?.contains("line 2, column 10") == true, "\(syntax)")
        let undefined = try await completionError(#""grammar":"root ::= item""#, param: "grammar", code: "invalid_grammar")
        #expect(undefined["message"]?.string?.contains("'item'") == true, "\(undefined)")
        try await completionError(#""grammar":"root ::= root \"a\" | \"b\"""#, param: "grammar", code: "invalid_grammar")
        try await completionError(#""grammar":"root ::= \"a\" root""#, param: "grammar", code: "invalid_grammar")
        try await completionError(#""grammar":"root ::= \"a\"{0,99999}""#, param: "grammar", code: "constraint_too_large")
        try await completionError(#""grammar":3"#, param: "grammar", code: "invalid_type")
        try await completionError(#""grammar":"root ::= \"a\"","response_format":{"type":"json_object"}"#, param: "grammar", code: "invalid_value")
    }

    // MARK: body parsing keeps order

    @Test func requestBodiesKeepKeyOrderAndStayStrict() async throws {
        #expect(JSONValue.parse(Array(#"{"b":1,"a":[true,null,-0.5e1,"\u00e9\ud83d\ude00"],"b":2}"#.utf8))?.serialized
            == #"{"b":1,"a":[true,null,-5.0,"é😀"],"b":2}"#)
        for bad in [#"{"a":1,}"#, #"{"a":"\ud800"}"#, #"{"a":01}"#, #"{"a":1e999}"#, "{\"a\":\"\u{01}\"}", #"{"a":NaN}"#, "{\"a\":\"\\x\"}", "[1]]"] {
            #expect(JSONValue.parse(Array(bad.utf8)) == nil || bad == "[1]]", "accepted \(bad)")
        }
        #expect(JSONValue.parse(Array("[1]]".utf8)) == nil)
        var deep = String(repeating: "[", count: 600) + String(repeating: "]", count: 600)
        #expect(JSONValue.parse(Array(deep.utf8)) == nil)
        deep = String(repeating: "[", count: 100) + String(repeating: "]", count: 100)
        #expect(JSONValue.parse(Array(deep.utf8)) != nil)
        try await withServer { client in
            try await client.post("/v1/completions", #"{"prompt":"\ud800"}"#).expectError(.badRequest, code: "invalid_json")
        }
    }
}
