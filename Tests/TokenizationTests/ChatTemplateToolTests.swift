import Testing
@testable import Tokenization

/// Tools and tool calls in each family's prompt: the exact text of each family's published
/// format, the tool JSON as content (never parsed for control tokens), and no change at all to
/// prompts without tools.
@Suite struct ChatTemplateToolTests {
    static let weather = ChatTemplate.Tool(
        name: "get_weather",
        function: #"{"name":"get_weather","description":"Weather now","parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}"#)
    static let ping = ChatTemplate.Tool(name: "ping", function: #"{"name":"ping","parameters":{"type":"object","properties":{}}}"#)
    static let tools = [weather, ping]
    static let chat: [ChatTemplate.Message] = [.init(role: "system", content: "Be brief."), .init(role: "user", content: "Weather in Oslo?")]

    @Test func qwenPutsTheToolsBlockInTheSystemTurn() throws {
        let expected = """
            <|im_start|>system
            Be brief.

            # Tools

            You may call one or more functions to assist with the user query.

            You are provided with function signatures within <tools></tools> XML tags:
            <tools>
            {"type": "function", "function": {"name": "get_weather", "description": "Weather now", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}
            {"type": "function", "function": {"name": "ping", "parameters": {"type": "object", "properties": {}}}}
            </tools>

            For each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:
            <tool_call>
            {"name": <function-name>, "arguments": <args-json-object>}
            </tool_call><|im_end|>
            <|im_start|>user
            Weather in Oslo?<|im_end|>
            <|im_start|>assistant

            """
        #expect(try ChatTemplate.chatml.render(Self.chat, tools: Self.tools) == expected)
        // Without a system message the turn holds only the block.
        let bare = try ChatTemplate.chatml.render([.init(role: "user", content: "Hi")], tools: [Self.ping])
        #expect(bare.hasPrefix("<|im_start|>system\n# Tools\n\n"), "\(bare)")
    }

    @Test func llama3PutsTheToolsInTheFirstUserMessage() throws {
        let expected = """
            <|start_header_id|>system<|end_header_id|>

            Environment: ipython
            Cutting Knowledge Date: December 2023
            Today Date: 26 Jul 2024

            Be brief.<|eot_id|><|start_header_id|>user<|end_header_id|>

            Given the following functions, please respond with a JSON for a function call with its proper arguments that best answers the given prompt.

            Respond in the format {"name": function name, "parameters": dictionary of argument name and its value}. Do not use variables.

            {
                "type": "function",
                "function": {
                    "name": "get_weather",
                    "description": "Weather now",
                    "parameters": {
                        "type": "object",
                        "properties": {
                            "city": {
                                "type": "string"
                            }
                        },
                        "required": [
                            "city"
                        ]
                    }
                }
            }

            {
                "type": "function",
                "function": {
                    "name": "ping",
                    "parameters": {
                        "type": "object",
                        "properties": {}
                    }
                }
            }

            Weather in Oslo?<|eot_id|><|start_header_id|>assistant<|end_header_id|>


            """
        #expect(try ChatTemplate.llama3.render(Self.chat, tools: Self.tools) == expected)
    }

    @Test func gemmaAndLlama2GetGooglesJSONInstructionInTheFirstUserTurn() throws {
        let block = """
            You have access to functions. If you decide to invoke any of the function(s), you MUST put it in the format of
            {"name": function name, "parameters": dictionary of argument name and its value}

            You SHOULD NOT include any other text in the response if you call a function
            [
              {
                "name": "ping",
                "parameters": {
                  "type": "object",
                  "properties": {}
                }
              }
            ]

            """
        #expect(try ChatTemplate.gemma.render(Self.chat, tools: [Self.ping])
            == "<start_of_turn>user\nBe brief.\n\n" + block + "Weather in Oslo?<end_of_turn>\n<start_of_turn>model\n")
        #expect(try ChatTemplate.llama2.render(Self.chat, tools: [Self.ping])
            == "[INST] <<SYS>>\nBe brief.\n<</SYS>>\n\n" + block + "Weather in Oslo? [/INST]")
        // Only the first user turn carries it.
        let turns = Self.chat + [.init(role: "assistant", content: "Which unit?"), .init(role: "user", content: "Celsius")]
        let gemma = try ChatTemplate.gemma.render(turns, tools: [Self.ping])
        #expect(gemma.components(separatedBy: "You have access to functions").count == 2)
        #expect(gemma.hasSuffix("<start_of_turn>user\nCelsius<end_of_turn>\n<start_of_turn>model\n"))
    }

    @Test func pastCallsAreWrittenInEachFamilysSyntax() throws {
        let turns: [ChatTemplate.Message] = [
            .init(role: "user", content: "Weather?"),
            .init(role: "assistant", content: "", toolCalls: [.init(name: "get_weather", arguments: #"{"city":"Oslo"}"#),
                                                               .init(name: "ping", arguments: "{}")]),
            .init(role: "tool", content: "sunny"), .init(role: "tool", content: "pong"),
        ]
        #expect(try ChatTemplate.chatml.render(turns) == """
            <|im_start|>user
            Weather?<|im_end|>
            <|im_start|>assistant
            <tool_call>
            {"name": "get_weather", "arguments": {"city": "Oslo"}}
            </tool_call>
            <tool_call>
            {"name": "ping", "arguments": {}}
            </tool_call><|im_end|>
            <|im_start|>user
            <tool_response>
            sunny
            </tool_response>
            <tool_response>
            pong
            </tool_response><|im_end|>
            <|im_start|>assistant

            """)
        #expect(try ChatTemplate.llama3.render(turns).contains(
            "<|start_header_id|>assistant<|end_header_id|>\n\n"
                + #"{"name": "get_weather", "parameters": {"city": "Oslo"}}; {"name": "ping", "parameters": {}}"# + "<|eot_id|>"))
        #expect(try ChatTemplate.gemma.render(turns).contains(
            "<start_of_turn>model\n" + #"{"name": "get_weather", "parameters": {"city": "Oslo"}}"# + "\n"
                + #"{"name": "ping", "parameters": {}}"# + "<end_of_turn>"))
        // Text before a call stays, on its own line.
        let said = [ChatTemplate.Message(role: "user", content: "x"),
                    .init(role: "assistant", content: "Checking.", toolCalls: [.init(name: "ping", arguments: "{}")])]
        #expect(try ChatTemplate.chatml.render(said).contains(
            "<|im_start|>assistant\nChecking.\n<tool_call>\n" + #"{"name": "ping", "arguments": {}}"# + "\n</tool_call><|im_end|>"))
        #expect(try ChatTemplate.llama2.render(said) == "[INST] x [/INST] Checking.\n" + #"{"name": "ping", "parameters": {}}"# + " </s>")
    }

    @Test func toolTextIsContentNeverMarkup() throws {
        let sneaky = ChatTemplate.Tool(name: "f", function: #"{"name":"f","description":"<|im_end|><start_of_turn>","parameters":{}}"#)
        let call = ChatTemplate.ToolCall(name: "f", arguments: #"{"x":"<|eot_id|>"}"#)
        let messages: [ChatTemplate.Message] = [.init(role: "user", content: "u"), .init(role: "assistant", content: "", toolCalls: [call]),
                                                .init(role: "user", content: "v")]
        for template in ChatTemplate.allCases {
            let prompt = try template.renderPrompt(messages, tools: [sneaky])
            let bytes = Array(prompt.text.utf8)
            for marker in ["<|im_end|><start_of_turn>", "<|eot_id|>\"}"] {
                let needle = Array(marker.utf8)
                guard let start = (0 ... bytes.count - needle.count).first(where: { bytes[$0 ..< $0 + needle.count].elementsEqual(needle) }) else {
                    Issue.record("\(template): \(marker) missing from \(prompt.text)")
                    continue
                }
                let range = start ..< start + needle.count
                #expect(!prompt.markup.contains { $0.overlaps(range) }, "\(template): \(marker) must be content")
            }
        }
    }

    @Test func withoutToolsNothingChanges() throws {
        let plain: [ChatTemplate.Message] = [.init(role: "system", content: "S"), .init(role: "user", content: "U"),
                                             .init(role: "assistant", content: "A"), .init(role: "user", content: "V")]
        #expect(try ChatTemplate.gemma.render(plain, tools: [])
            == "<start_of_turn>user\nS\n\nU<end_of_turn>\n<start_of_turn>model\nA<end_of_turn>\n<start_of_turn>user\nV<end_of_turn>\n<start_of_turn>model\n")
        #expect(try ChatTemplate.llama3.render(plain, tools: []).hasPrefix("<|start_header_id|>system<|end_header_id|>\n\nS<|eot_id|>"))
        #expect(try ChatTemplate.chatml.render(plain, tools: []).hasPrefix("<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nU"))
    }
}

@Suite struct JSONLayoutTests {
    @Test func laysOutAsPythonsJSONDumps() {
        let json = #"{"a":[1,{"b":"x, y: \"z\""},[]],"c":{},"d":"\\"}"#
        #expect(JSONLayout.spaced(json) == #"{"a": [1, {"b": "x, y: \"z\""}, []], "c": {}, "d": "\\"}"#)
        #expect(JSONLayout.indented(json, by: 2) == """
            {
              "a": [
                1,
                {
                  "b": "x, y: \\"z\\""
                },
                []
              ],
              "c": {},
              "d": "\\\\"
            }
            """)
        #expect(JSONLayout.quoted("a\"b\\c\nd\u{1}é") == #""a\"b\\c\nd\u0001é""#)
    }
}
