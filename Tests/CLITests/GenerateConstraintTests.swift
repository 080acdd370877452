import Foundation
import Testing

/// `pipeserve generate --json-schema / --json-object / --grammar`: the output follows the
/// constraint in one process and through stage processes alike, and a bad file is an error that
/// names the flag, the file and what is wrong.
@Suite struct GenerateConstraintTests {
    static func write(_ text: String, _ name: String) throws -> String {
        let path = CLI.scratch("\(UUID().uuidString)-\(name)")
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        return path
    }

    static func json(_ r: CLIResult) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any], "\(r.output)")
    }

    @Test func aGrammarShapesTheOutputInProcessAndThroughStages() throws {
        let model = try CLI.syntheticModel()
        let grammar = try Self.write(#"root ::= ("yes" | "no") " " [0-9] [0-9]?"# + "\n", "answer.gbnf")
        for seed in ["1", "2"] {
            let args = ["generate", "--model", model, "--prompt", "answer", "--max-tokens", "12", "--json", "--grammar", grammar,
                        "--temperature", "1", "--seed", seed]
            let one = try CLI.run(args.map { Array($0.utf8) })
            #expect(one.status == 0, "\(one.output)")
            let a = try Self.json(one)
            let text = a["text"] as? String ?? ""
            let (word, number) = (text.prefix { $0 != " " }, text.drop { $0 != " " }.dropFirst())
            #expect(["yes", "no"].contains(word) && (1...2).contains(number.count) && number.allSatisfy(\.isNumber), "\(text)")
            #expect(a["finish_reason"] as? String == "stop", "the grammar ends the output: \(one.output)")
            let two = try CLI.run((args + ["--stages", "2"]).map { Array($0.utf8) })
            #expect(two.status == 0, "\(two.output)")
            #expect(try Self.json(two)["tokens"] as? [Int] == a["tokens"] as? [Int], "the same tokens through two stages")
        }
    }

    @Test func jsonObjectAndSchema() throws {
        let model = try CLI.syntheticModel()
        let schema = try Self.write(#"{"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"], "additionalProperties": false}"#,
                                    "schema.json")
        let r = try CLI.run("generate", "--model", model, "--prompt", "x", "--max-tokens", "200", "--json", "--json-schema", schema, "--strict")
        #expect(r.status == 0, "\(r.output)")
        let text = try Self.json(r)["text"] as? String ?? ""
        let compact = text.filter { !$0.isWhitespace }
        #expect(compact == #"{"ok":true}"# || compact == #"{"ok":false}"#, "\(text)")
        let o = try CLI.run("generate", "--model", model, "--prompt", "x", "--max-tokens", "40", "--json", "--json-object")
        #expect(o.status == 0, "\(o.output)")
        let object = try Self.json(o)["text"] as? String ?? ""
        #expect(object.drop(while: \.isWhitespace).hasPrefix("{"), "at most a gap before the object: \(object.debugDescription)")
    }

    @Test func badConstraintsAreErrorsNamingTheFlag() throws {
        let model = try CLI.syntheticModel()
        func fails(_ args: String..., saying parts: [String]) throws {
            let r = try CLI.run((["generate", "--model", model, "--prompt", "x", "--max-tokens", "2"] + args).map { Array($0.utf8) })
            #expect(r.status != 0, "\(args)")
            for part in parts { #expect(r.stderr.contains(part), "\(args): \(r.stderr)") }
        }
        let badType = try Self.write(#"{"type": "object", "properties": {"n": {"type": 3}}}"#, "bad.json")
        try fails("--json-schema", badType, saying: ["--json-schema \(badType)", "properties.n.type"])
        let notJSON = try Self.write("{nope", "nope.json")
        try fails("--json-schema", notJSON, saying: ["--json-schema \(notJSON)", "not valid JSON"])
        let unenforced = try Self.write(#"{"type": "number", "multipleOf": 3}"#, "strict.json")
        try fails("--json-schema", unenforced, "--strict", saying: ["--json-schema", "multipleOf"])
        let badGrammar = try Self.write("root ::= \"a\n", "bad.gbnf")  // an unterminated string
        try fails("--grammar", badGrammar, saying: ["--grammar \(badGrammar)", "line"])
        try fails("--grammar", "/nonexistent/g.gbnf", saying: ["cannot read --grammar /nonexistent/g.gbnf"])
        try fails("--json-object", "--grammar", badGrammar, saying: ["at most one of --json-schema, --json-object, --grammar"])
        try fails("--strict", saying: ["--strict needs --json-schema"])
    }
}
