import Testing

@testable import OpenAIServer

/// Tool calls found in free text (`tool_choice: "auto"`): what counts as a call in each syntax,
/// what stays text, and that every way of cutting the text gives the same content and calls with
/// nothing lost or repeated.
@Suite struct ToolCallParserTests {
    typealias Output = ToolCallParser.Output
    static let functions: Set<String> = ["get_weather", "ping"]

    /// Runs `pieces` through a parser and returns its outputs with adjacent content joined.
    static func run(_ format: ToolCallFormat, _ pieces: [String], maxCalls: Int = .max) -> [Output] {
        var parser = ToolCallParser(format: format, functions: functions, maxCalls: maxCalls)
        var outputs: [Output] = []
        for piece in pieces { outputs += parser.append(piece) }
        outputs += parser.finish()
        var joined: [Output] = []
        for output in outputs {
            if case .content(let text) = output, text.isEmpty { Issue.record("an empty content output") }
            if case .content(let text) = output, case .content(let previous)? = joined.last {
                joined[joined.count - 1] = .content(previous + text)
            } else {
                joined.append(output)
            }
        }
        return joined
    }

    /// The same outputs for the whole text at once, one character at a time, and cut in two and
    /// in three at every character boundary.
    static func expectEveryCut(_ format: ToolCallFormat, _ text: String, _ expected: [Output], maxCalls: Int = .max,
                               sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(run(format, [text], maxCalls: maxCalls) == expected, "whole", sourceLocation: sourceLocation)
        #expect(run(format, text.map(String.init), maxCalls: maxCalls) == expected, "characters", sourceLocation: sourceLocation)
        let chars = Array(text)
        for i in 0 ... chars.count {
            let two = [String(chars[..<i]), String(chars[i...])]
            #expect(run(format, two, maxCalls: maxCalls) == expected, "cut at \(i)", sourceLocation: sourceLocation)
            let j = (i + 7) % (chars.count + 1)
            let (a, b) = (min(i, j), max(i, j))
            let three = [String(chars[..<a]), String(chars[a..<b]), String(chars[b...])]
            #expect(run(format, three, maxCalls: maxCalls) == expected, "cut at \(a), \(b)", sourceLocation: sourceLocation)
        }
    }

    // MARK: tagged (Qwen 2.5, Hermes)

    @Test func taggedCallsAndTheTextAroundThem() {
        let text = "Let me look. é\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Oslo\", \"days\": [1, 2]}}\n</tool_call>\n"
            + "<tool_call>\n{\"name\": \"ping\", \"arguments\": {}}\n</tool_call>"
        Self.expectEveryCut(.taggedJSON, text, [
            .content("Let me look. é"),
            .call(name: "get_weather", arguments: #"{"city":"Oslo","days":[1,2]}"#),
            .call(name: "ping", arguments: "{}"),
        ])
        // Text after a call is content too; whitespace next to calls is dropped.
        Self.expectEveryCut(.taggedJSON, "  <tool_call>{\"name\": \"ping\"}</tool_call>\n\nDone. ", [
            .call(name: "ping", arguments: "{}"), .content("Done. "),
        ])
        // Arguments written as a JSON string holding an object, or under "parameters".
        #expect(Self.run(.taggedJSON, [#"<tool_call>{"name": "ping", "arguments": "{\"a\": 1}"}</tool_call>"#])
            == [.call(name: "ping", arguments: #"{"a":1}"#)])
        #expect(Self.run(.taggedJSON, [#"<tool_call>{"name": "ping", "parameters": {"a": 1}}</tool_call>"#])
            == [.call(name: "ping", arguments: #"{"a":1}"#)])
    }

    @Test func whatIsNotACallStaysTextAsWritten() {
        for text in [
            "Plain answer, nothing else.\n",
            "<tool_call>{\"name\": \"delete_all\", \"arguments\": {}}</tool_call>",  // undeclared
            "Sure <tool_call>{\"name\": \"ping\", \"arguments\": {</tool_call> ok",  // malformed JSON
            "<tool_call>{\"name\": \"ping\", \"arguments\": [1]}</tool_call>",  // arguments not an object
            "<tool_call>[\"ping\"]</tool_call>",
            "a <tool_call>{\"name\": \"ping\", \"arguments\": {}}",  // never closed (max_tokens)
            "a <tool_cal", "<tool_call", "x < y and <tool_calls> are fine",
            "", "   \n",
        ] {
            Self.expectEveryCut(.taggedJSON, text, text.isEmpty ? [] : [.content(text)])
        }
        // A bad block between good ones stays where it was.
        let bad = "<tool_call>{\"name\": \"nope\"}</tool_call>"
        Self.expectEveryCut(.taggedJSON, "<tool_call>{\"name\": \"ping\"}</tool_call>\n" + bad, [
            .call(name: "ping", arguments: "{}"), .content(bad),
        ])
    }

    @Test func callsBeyondTheLimitStayText() {
        let one = "<tool_call>{\"name\": \"ping\", \"arguments\": {}}</tool_call>"
        Self.expectEveryCut(.taggedJSON, one + "\n" + one, [.call(name: "ping", arguments: "{}"), .content(one)], maxCalls: 1)
    }

    @Test func taggedTextStreamsAsItComes() {
        var parser = ToolCallParser(format: .taggedJSON, functions: Self.functions)
        #expect(parser.append("Hello") == [.content("Hello")])
        #expect(parser.append(" wor") == [.content(" wor")])
        #expect(parser.append("ld <tool") == [.content("ld")], "a possible tag and the blank before it wait")
        #expect(parser.append("box>") == [.content(" <toolbox>")])
        #expect(parser.append("<tool_call>{\"name\": \"ping\"") == [])
        #expect(parser.append("}</tool_call>") == [.call(name: "ping", arguments: "{}")])
        #expect(parser.finish() == [])
    }

    // MARK: bare JSON (Llama 3.1, Gemma 3, Llama 2)

    @Test func bareCallsAreTheWholeReply() {
        Self.expectEveryCut(.bareJSON, #" {"name": "get_weather", "parameters": {"city": "Zürich"}}"#,
                            [.call(name: "get_weather", arguments: #"{"city":"Zürich"}"#)])
        Self.expectEveryCut(.bareJSON, #"{"name": "ping", "arguments": {}}; {"name": "get_weather", "parameters": {"city": "Oslo"}}"#,
                            [.call(name: "ping", arguments: "{}"), .call(name: "get_weather", arguments: #"{"city":"Oslo"}"#)])
        Self.expectEveryCut(.bareJSON, "[{\"name\": \"ping\", \"parameters\": {}},\n {\"name\": \"ping\", \"parameters\": {\"n\": 2}}]",
                            [.call(name: "ping", arguments: "{}"), .call(name: "ping", arguments: #"{"n":2}"#)])
        Self.expectEveryCut(.bareJSON, "```json\n{\"name\": \"ping\", \"parameters\": {}}\n```\n", [.call(name: "ping", arguments: "{}")])
    }

    @Test func bareTextThatIsNotOnlyCallsStaysText() {
        for text in [
            "The weather is fine.",
            #"{"name": "Alice", "parameters": {}}"#,  // not a declared function
            #"{"name": "ping", "parameters": {}, "id": 1}"#,  // a member a call does not have
            #"{"name": "ping"}"#,  // no arguments
            #"{"name": "ping", "parameters": {}} and more"#,
            #"{"name": "ping", "parameters": {"#,  // cut short
            "{x}", "[1, 2]", "```python\nprint(1)\n```", "`code`", "  ",
            #"{"name": "ping", "parameters": {}}; {"name": "ping", "parameters": {}}"#,  // two, one allowed below
        ] {
            let maxCalls = text.contains(";") ? 1 : Int.max
            Self.expectEveryCut(.bareJSON, text, [.content(text)], maxCalls: maxCalls)
        }
    }

    @Test func bareTextIsHeldOnlyWhileItCouldBeACall() {
        var text = ToolCallParser(format: .bareJSON, functions: Self.functions)
        #expect(text.append("\n") == [], "leading blanks wait for the first character")
        #expect(text.append("Sunny") == [.content("\nSunny")])
        #expect(text.append(" today") == [.content(" today")])
        var braces = ToolCallParser(format: .bareJSON, functions: Self.functions)
        #expect(braces.append("{") == [])
        #expect(braces.append(" x") == [.content("{ x")], "an object without a key is no call")
        var call = ToolCallParser(format: .bareJSON, functions: Self.functions)
        #expect(call.append(#"{"name": "ping", "#) == [])
        #expect(call.append(#""parameters": {}}"#) == [])
        #expect(call.finish() == [.call(name: "ping", arguments: "{}")])
    }
}
