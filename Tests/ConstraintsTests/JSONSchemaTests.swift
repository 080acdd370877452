import Testing

@testable import Constraints

@Suite struct JSONSchemaTests {
    static let person = #"""
        {"type":"object","properties":{
            "name":{"type":"string"},
            "age":{"type":"integer"},
            "address":{"type":"object","properties":{"city":{"type":"string"},"zip":{"type":"string"}},
                       "required":["city","zip"],"additionalProperties":false}},
         "required":["name","age","address"],"additionalProperties":false}
        """#

    @Test func nestedObjectsInSchemaOrder() throws {
        let grammar = try schemaGrammar(Self.person)
        expectTable(
            grammar,
            accept: [
                #"{"name":"Ann","age":31,"address":{"city":"Oslo","zip":"0150"}}"#,
                #"{ "name": "Ann", "age": 31, "address": { "city": "Oslo", "zip": "0150" } }"#,
                "{\n  \"name\": \"Ann\",\n  \"age\": -1,\n  \"address\": {\n    \"city\": \"\",\n    \"zip\": \"x\"\n  }\n}",
            ],
            reject: [
                #"{"age":31,"name":"Ann","address":{"city":"Oslo","zip":"0150"}}"#,  // order
                #"{"name":"Ann","age":31}"#,  // missing required
                #"{"name":"Ann","age":31.5,"address":{"city":"Oslo","zip":"0150"}}"#,  // integer
                #"{"name":"Ann","age":31,"address":{"city":"Oslo","zip":"0150"},"x":1}"#,  // additional
                #"{"name":"Ann","age":31,"address":{"city":"Oslo","zip":0150}}"#,
                #"{"name":"Ann","age":31,"address":{"city":"Oslo","zip":"0150"},}"#,  // trailing comma
                #"{"name":"Ann","age":31,"address":{"city":"Oslo","zip":"0150"}"#,  // unclosed
            ])
    }

    @Test func optionalPropertiesMayBeLeftOutButKeepTheirOrder() throws {
        let grammar = try schemaGrammar(
            #"{"type":"object","properties":{"a":{"type":"integer"},"b":{"type":"integer"},"c":{"type":"integer"}},"required":["b"],"additionalProperties":false}"#,
            strict: false)
        expectTable(
            grammar,
            accept: [#"{"b":2}"#, #"{"a":1,"b":2}"#, #"{"b":2,"c":3}"#, #"{"a":1,"b":2,"c":3}"#],
            reject: [#"{}"#, #"{"a":1}"#, #"{"b":2,"a":1}"#, #"{,"b":2}"#, #"{"b":2,}"#, #"{"a":1,,"b":2}"#])
        let allOptional = try schemaGrammar(
            #"{"type":"object","properties":{"a":{"type":"integer"},"b":{"type":"integer"}},"additionalProperties":false}"#)
        expectTable(allOptional, accept: ["{}", "{ }", #"{"a":1}"#, #"{"b":2}"#, #"{"a":1,"b":2}"#], reject: [#"{,"b":2}"#, #"{"a":1,}"#])
    }

    @Test func additionalPropertiesAbsentTrueOrASchema() throws {
        let open = try schemaGrammar(#"{"type":"object","properties":{"a":{"type":"integer"}},"required":["a"]}"#, strict: false)
        expectTable(
            open,
            accept: [#"{"a":1}"#, #"{"a":1,"b":[true,{"c":null}]}"#, #"{"a":1,"ab":2}"#, #"{"a":1,"":2}"#],
            reject: [#"{"a":1,"a":2}"#, #"{"b":1}"#])
        let typed = try schemaGrammar(#"{"type":"object","additionalProperties":{"type":"number"}}"#)
        expectTable(typed, accept: ["{}", #"{"x":1,"y":2.5}"#], reject: [#"{"x":"1"}"#])
        let freeForm = try schemaGrammar(#"{"type":"object"}"#)
        expectTable(freeForm, accept: ["{}", #"{"k":{"k":[1,"2",null]}}"#], reject: ["[]", "1"])
        let closed = try schemaGrammar(#"{"type":"object","properties":{},"additionalProperties":false}"#)
        expectTable(closed, accept: ["{}", "{ }"], reject: [#"{"a":1}"#])
    }

    @Test func arraysWithItemBounds() throws {
        let grammar = try schemaGrammar(#"{"type":"array","items":{"type":"integer"},"minItems":2,"maxItems":4}"#)
        expectTable(
            grammar, accept: ["[1,2]", "[1, 2, 3]", "[1,2,3,4]", "[ 1 , 2 ]"],
            reject: ["[]", "[1]", "[1,2,3,4,5]", "[1,,2]", "[1,2,]", #"[1,"2"]"#])
        let any = try schemaGrammar(#"{"type":"array"}"#)
        expectTable(any, accept: ["[]", #"[1,"a",[],{}]"#], reject: ["[,]"])
        let empty = try schemaGrammar(#"{"type":"array","maxItems":0}"#)
        expectTable(empty, accept: ["[]"], reject: ["[1]"])
        let tuple = try schemaGrammar(
            #"{"type":"array","prefixItems":[{"type":"string"},{"type":"integer"}],"items":false,"minItems":1}"#)
        expectTable(tuple, accept: [#"["a"]"#, #"["a",1]"#], reject: ["[]", #"["a",1,2]"#, #"[1]"#])
    }

    @Test func enumsAndConstsWithEscapes() throws {
        let grammar = try schemaGrammar(#"{"enum":["red","say \"hi\"","back\\slash","tab\tnew\nline","é",1,null,{"a":[1]}]}"#)
        expectTable(
            grammar,
            accept: [#""red""#, #""say \"hi\"""#, #""back\\slash""#, #""tab\tnew\nline""#, #""é""#, "1", "null", #"{"a":[1]}"#],
            reject: [#""blue""#, #""say "hi"""#, #""\u00e9""#, "1.0", #"{"a": [1]}"#, #""red ""#])
        let typed = try schemaGrammar(#"{"type":"string","enum":["a","b",3]}"#)
        expectTable(typed, accept: [#""a""#, #""b""#], reject: ["3"])
        let constant = try schemaGrammar(#"{"const":"fixed"}"#)
        expectTable(constant, accept: [#""fixed""#], reject: [#""other""#])
    }

    @Test func anyOfAlternatives() throws {
        let grammar = try schemaGrammar(#"""
            {"anyOf":[
              {"type":"object","properties":{"kind":{"const":"circle"},"r":{"type":"number"}},"required":["kind","r"],"additionalProperties":false},
              {"type":"object","properties":{"kind":{"const":"rect"},"w":{"type":"number"},"h":{"type":"number"}},"required":["kind","w","h"],"additionalProperties":false},
              {"type":"null"}]}
            """#)
        expectTable(
            grammar, accept: [#"{"kind":"circle","r":1}"#, #"{"kind":"rect","w":1,"h":2}"#, "null"],
            reject: [#"{"kind":"circle","w":1,"h":2}"#, #"{"kind":"rect","r":1}"#, "{}"])
    }

    @Test func recursiveReferences() throws {
        let tree = try schemaGrammar(#"""
            {"$ref":"#/$defs/node","$defs":{"node":{"type":"object","properties":{
              "value":{"type":"integer"},
              "children":{"type":"array","items":{"$ref":"#/$defs/node"}}},
              "required":["value","children"],"additionalProperties":false}}}
            """#)
        let deep = String(repeating: #"{"value":1,"children":["#, count: 20) + #"{"value":2,"children":[]}"# + String(repeating: "]}", count: 20)
        expectTable(
            tree,
            accept: [
                #"{"value":1,"children":[]}"#, #"{"value":1,"children":[{"value":2,"children":[]},{"value":3,"children":[]}]}"#, deep,
            ],
            reject: [#"{"value":1,"children":[{"value":2}]}"#, #"{"value":1,"children":[1]}"#])
        let list = try schemaGrammar(#"""
            {"type":"object","properties":{"head":{"type":"integer"},"tail":{"anyOf":[{"$ref":"#"},{"type":"null"}]}},
             "required":["head","tail"],"additionalProperties":false}
            """#)
        expectTable(list, accept: [#"{"head":1,"tail":{"head":2,"tail":null}}"#], reject: [#"{"head":1,"tail":{"head":2}}"#])
        let legacy = try schemaGrammar(##"{"definitions":{"n":{"type":"integer"}},"type":"array","items":{"$ref":"#/definitions/n"}}"##)
        expectTable(legacy, accept: ["[1,2]"], reject: [#"["1"]"#])
    }

    @Test func nestingDepthIsBoundedAtRunTime() throws {
        var limits = ConstraintLimits()
        limits.maxStackDepth = 8
        let grammar = try ConstraintCompiler.jsonObject(limits: limits)
        var state = grammar.start()
        var opened = 0
        while state.advance(Array(#"{"a":"#.utf8)) { opened += 1 }
        #expect(opened > 0 && opened < 10, "nesting stopped after \(opened) levels")
        #expect(!state.isDead)
        // Closing is still possible at the limit.
        do { let ok = state.advance(Array(("1" + String(repeating: "}", count: opened)).utf8)); #expect(ok) }
        #expect(state.isAccepting)
    }

    @Test func emptySchemaAndTrueAcceptAnyValue() throws {
        for schema in ["{}", "true", #"{"description":"anything"}"#] {
            expectTable(try schemaGrammar(schema), accept: ["1", #""s""#, "[]", #"{"a":{"b":[null]}}"#, "true"], reject: ["", "{", "nul"])
        }
    }

    @Test func pydanticStyleSchema() throws {
        // What `client.chat.completions.parse` sends for a model with an optional and an enum field.
        let grammar = try schemaGrammar(#"""
            {"$defs":{"Color":{"enum":["red","green"],"title":"Color","type":"string"}},
             "properties":{"name":{"title":"Name","type":"string"},
                           "color":{"$ref":"#/$defs/Color"},
                           "note":{"anyOf":[{"type":"string"},{"type":"null"}],"title":"Note"}},
             "required":["name","color","note"],"title":"Item","type":"object","additionalProperties":false}
            """#)
        expectTable(
            grammar, accept: [#"{"name":"x","color":"red","note":null}"#, #"{"name":"x","color":"green","note":"n"}"#],
            reject: [#"{"name":"x","color":"blue","note":null}"#])
    }
}
