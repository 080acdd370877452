// Measures constraint compile and mask times on a real GGUF vocabulary, in whatever build
// configuration it is run (use release for numbers that mean something):
//
//   swift run -c release constraints-bench path/to/model.gguf

import Constraints
import Foundation
import GGUF
import Tokenization

let arguments = CommandLine.arguments
guard arguments.count == 2 else {
    print("usage: constraints-bench MODEL.gguf")
    exit(2)
}
let clock = ContinuousClock()
func ms(_ duration: Duration) -> String {
    String(format: "%8.3f ms", Double(duration.components.seconds) * 1000 + Double(duration.components.attoseconds) / 1e15)
}

do {
    let tokenizer = try Tokenizer(gguf: try GGUFFile(path: arguments[1]))
    var vocabulary: TokenVocabulary?
    let vocabularyTime = clock.measure {
        let bytes = (0..<Int32(tokenizer.vocabularySize)).map { tokenizer.tokenBytes($0) }
        vocabulary = TokenVocabulary(tokenBytes: bytes, endOfGeneration: tokenizer.eogIDs)
    }
    guard let vocabulary else { exit(1) }
    print("vocabulary: \(vocabulary.count) tokens, \(vocabulary.trieNodeCount) trie nodes, built in \(ms(vocabularyTime))")

    let schema = #"""
        {"type":"object","properties":{
            "name":{"type":"string"},
            "age":{"type":"integer"},
            "tags":{"type":"array","items":{"type":"string"},"maxItems":5},
            "address":{"type":"object","properties":{"city":{"type":"string"},"zip":{"type":"string"}},
                       "required":["city","zip"],"additionalProperties":false}},
         "required":["name","age","tags","address"],"additionalProperties":false}
        """#
    let tree = ##"""
        {"$ref":"#/$defs/node","$defs":{"node":{"type":"object","properties":{
          "value":{"type":"integer"},"label":{"type":"string"},
          "children":{"type":"array","items":{"$ref":"#/$defs/node"}}},
          "required":["value","label","children"],"additionalProperties":false}}}
        """##
    var grammars: [String: CompiledGrammar] = [:]
    for (name, build) in [
        ("schema", { try ConstraintCompiler.jsonSchema(schema, strict: true) }),
        ("tree", { try ConstraintCompiler.jsonSchema(tree, strict: true) }),
        ("json_object", { try ConstraintCompiler.jsonObject() }),
    ] as [(String, () throws -> CompiledGrammar)] {
        var grammar: CompiledGrammar?
        let time = try clock.measure { grammar = try build() }
        grammars[name] = grammar
        print("compile \(name): \(ms(time)), \(grammar?.stateCount ?? 0) states")
    }

    // Adversarial schemas: each must end quickly, compiled or refused as too large.
    let wideAnyOf = "{\"anyOf\":[" + (0..<60).map {
        "{\"type\":\"array\",\"items\":{\"type\":\"string\",\"maxLength\":\(300 + $0)},\"maxItems\":\(60 + $0)}"
    }.joined(separator: ",") + "]}"
    let manyOptional = "{\"type\":\"object\",\"properties\":{" + (0..<200).map { "\"p\($0)\":{\"type\":\"string\"}" }
        .joined(separator: ",") + "}}"
    let longStrings = "{\"type\":\"array\",\"items\":{\"type\":\"string\",\"minLength\":900,\"maxLength\":1000},\"maxItems\":1000}"
    let bigEnum = "{\"enum\":[" + (0..<5000).map { "\"value-\($0)-\(String(repeating: "x", count: $0 % 40))\"" }.joined(separator: ",") + "]}"
    let fiftyOptional = "{\"type\":\"object\",\"properties\":{" + (0..<50).map { "\"field_\($0)\":{\"type\":\"string\"}" }
        .joined(separator: ",") + "},\"additionalProperties\":false}"
    let hundredRequired = "{\"type\":\"object\",\"properties\":{" + (0..<100).map {
        "\"field_\($0)\":{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"string\"},\"b\":{\"type\":\"number\"}},\"required\":[\"a\",\"b\"],\"additionalProperties\":false}"
    }.joined(separator: ",") + "},\"required\":[" + (0..<100).map { "\"field_\($0)\"" }.joined(separator: ",") + "],\"additionalProperties\":false}"
    for (name, text) in [("50 optional properties", fiftyOptional), ("100 required object properties", hundredRequired),
                         ("anyOf of 60 bounded arrays", wideAnyOf), ("200 optional properties", manyOptional),
                         ("strings of 900-1000 chars", longStrings), ("enum of 5000 strings", bigEnum)] {
        var outcome = ""
        let time = clock.measure {
            do {
                var limits = ConstraintLimits()
                if let work = ProcessInfo.processInfo.environment["WORK"].flatMap(Int.init) { limits.maxCompileWork = work }
                outcome = "compiled, \(try ConstraintCompiler.jsonSchema(text, strict: false, limits: limits).stateCount) states"
            } catch {
                outcome = "refused: \(error)"
            }
        }
        print("adversarial \(name): \(ms(time)) — \(outcome)")
    }

    if ProcessInfo.processInfo.environment["ONLY_COMPILE"] != nil { exit(0) }
    let states: [(String, String, String)] = [
        ("schema", "start", ""),
        ("schema", "after a key", #"{"name":"#),
        ("schema", "inside a string", #"{"name": "Ann Marie"#),
        ("schema", "at a number", #"{"name": "Ann", "age": 4"#),
        ("schema", "after a value", #"{"name": "Ann", "age": 42"#),
        ("schema", "in an array of strings", #"{"name": "Ann", "age": 42, "tags": ["a", "b"#),
        ("tree", "inside a nested string", #"{"value": 1, "label": "root", "children": [{"value": 2, "label": "le"#),
        ("tree", "after a nested object", #"{"value": 1, "label": "root", "children": [{"value": 2, "label": "leaf", "children": []}"#),
        ("json_object", "start", ""),
        ("json_object", "inside a nested string", #"{"notes": [{"text": "some te"#),
        ("json_object", "after a nested object", #"{"a": [{"b": 1}"#),
        ("json_object", "at a number", #"{"a": [1.5"#),
    ]
    print("grammar | state | allowed | first mask (builds table) | cached mask (median of 21) | allows(one token) | plain trie walk")
    var maskers: [String: TokenMasker] = [:]
    for (grammarName, stateName, prefix) in states {
        guard let grammar = grammars[grammarName] else { continue }
        let masker = maskers[grammarName] ?? TokenMasker(grammar: grammar, vocabulary: vocabulary)
        maskers[grammarName] = masker
        var state = grammar.start()
        guard state.advance(Array(prefix.utf8)) else {
            print("prefix rejected: \(prefix)")
            continue
        }
        var mask = TokenMask(count: 0)
        let cold = clock.measure { mask = masker.mask(for: state) }
        var warm: [Duration] = []
        for _ in 0..<21 { warm.append(clock.measure { mask = masker.mask(for: state) }) }
        let allowed = mask.allowedTokens
        let sample = allowed[allowed.count / 2]
        var ok = false
        let check = clock.measure { for _ in 0..<10_000 { ok = masker.allows(sample, in: state) } }
        let reference = clock.measure { _ = masker.referenceMask(for: state) }
        print("\(grammarName) | \(stateName) | \(mask.allowedCount) | \(ms(cold)) | \(ms(warm.sorted()[10])) | \(ms(check / 10_000)) \(ok ? "" : "(rejected!)") | \(ms(reference))")
    }
} catch {
    print("error: \(error)")
    exit(1)
}
