/// Turns the text of a forced tool call into OpenAI `tool_calls` as it streams: which call starts
/// (its index and function name) and the pieces of its `arguments` string.
///
/// The text has the shape the call's constraint forces (`ToolRequest`): for a named function,
/// its arguments value; for `tool_choice: "required"`, a JSON array of `{"name": …,
/// "parameters": …}` objects, name first. The arguments string of a call is the exact text the
/// model wrote for the value (JSON, with the model's spacing), so concatenating the streamed
/// pieces gives the non-streamed string. A pure byte-level state machine: text in, events out,
/// whatever the piece boundaries; it trusts the shape (the constraint guarantees it) and only
/// has to survive text cut short by max_tokens.
struct ToolCallExtractor: Sendable {
    enum Mode: Sendable, Equatable {
        /// `tool_choice: {"type": "function", "function": {"name": …}}`: the text is its arguments.
        case named(String)
        /// `tool_choice: "required"`: the text is an array of `{"name", "parameters"}` calls.
        case array
    }

    enum Event: Sendable, Equatable {
        /// Call `index` starts: it calls `name`.
        case begin(index: Int, name: String)
        /// More of call `index`'s arguments string.
        case arguments(index: Int, String)
    }

    /// A call as far as the text went.
    struct Call: Sendable, Equatable {
        var name: String
        var arguments: String
    }

    let mode: Mode
    private(set) var calls: [Call] = []

    // Where the array form stands.
    private enum Place { case beforeArray, betweenCalls, key, afterKey, value, afterValue, done }
    private var place = Place.beforeArray
    private var depth = 0  // containers open, the array counted
    private var inString = false
    private var escaped = false
    private var key: [UInt8] = []
    private var name: [UInt8] = []
    private var readingName = false
    /// Capturing a call's arguments value: its container depth at the start.
    private var argumentsDepth: Int?

    init(mode: Mode) { self.mode = mode }

    /// Feeds the next piece of text; returns what it adds, in order.
    mutating func append(_ piece: String) -> [Event] {
        switch mode {
        case .named(let function):
            var text = Substring(piece)
            if calls.isEmpty {
                // Leading whitespace is the gap the constraint allows before the value.
                text = text.drop { $0 == " " || $0 == "\n" || $0 == "\t" || $0 == "\r" }
                guard !text.isEmpty else { return [] }
                calls.append(Call(name: function, arguments: String(text)))
                return [.begin(index: 0, name: function), .arguments(index: 0, String(text))]
            }
            calls[0].arguments += text
            return text.isEmpty ? [] : [.arguments(index: 0, String(text))]
        case .array:
            var events: [Event] = []
            var captured: [UInt8] = []
            for byte in piece.utf8 { step(byte, &captured, &events) }
            flush(&captured, &events)
            return events
        }
    }

    /// Text arguments bytes collected in one piece go out as one event.
    private mutating func flush(_ captured: inout [UInt8], _ events: inout [Event]) {
        guard !captured.isEmpty, !calls.isEmpty else { return }
        let text = String(decoding: captured, as: UTF8.self)
        calls[calls.count - 1].arguments += text
        events.append(.arguments(index: calls.count - 1, text))
        captured.removeAll()
    }

    private static func isBlank(_ b: UInt8) -> Bool { b == 0x20 || b == 0x0A || b == 0x09 || b == 0x0D }

    private mutating func step(_ b: UInt8, _ captured: inout [UInt8], _ events: inout [Event]) {
        if let start = argumentsDepth {
            if inString {
                captured.append(b)
                if escaped { escaped = false } else if b == 0x5C { escaped = true } else if b == 0x22 { inString = false }
                if !inString && depth == start { endArguments(&captured, &events) }
                return
            }
            switch b {
            case 0x22:
                captured.append(b)
                inString = true
                return
            case 0x7B, 0x5B:
                captured.append(b)
                depth += 1
                return
            case 0x7D, 0x5D:
                if depth > start {
                    captured.append(b)
                    depth -= 1
                    if depth == start { endArguments(&captured, &events) }
                    return
                }
                endArguments(&captured, &events)  // a scalar value ends at its object's close
            case 0x2C where depth == start:
                endArguments(&captured, &events)  // a scalar value ends at the comma
            default:
                captured.append(b)
                return
            }
        }
        if inString {
            if escaped {
                escaped = false
            } else if b == 0x5C {
                escaped = true
            } else if b == 0x22 {
                inString = false
                if readingName {
                    readingName = false
                    let function = String(decoding: name, as: UTF8.self)
                    calls.append(Call(name: function, arguments: ""))
                    events.append(.begin(index: calls.count - 1, name: function))
                    place = .afterValue
                } else if place == .key {
                    place = .afterKey
                }
                return
            }
            if readingName { name.append(b) } else if place == .key { key.append(b) }
            return
        }
        if Self.isBlank(b) { return }
        switch place {
        case .beforeArray:
            if b == 0x5B { depth = 1; place = .betweenCalls }
        case .betweenCalls:
            if b == 0x7B { depth = 2; place = .key; key = [] } else if b == 0x5D { depth = 0; place = .done }
        case .key:
            if b == 0x22 { inString = true; key = [] } else if b == 0x7D { depth = 1; place = .betweenCalls }
        case .afterKey:
            if b == 0x3A { place = .value }
        case .value:
            if key == Array("name".utf8), b == 0x22 {
                inString = true
                readingName = true
                name = []
            } else if key == Array("parameters".utf8) {
                argumentsDepth = depth
                place = .afterValue
                step(b, &captured, &events)  // the value's first byte
            } else {
                place = .afterValue  // an unknown member: the constraint allows none
            }
        case .afterValue:
            if b == 0x2C { place = .key; key = [] } else if b == 0x7D { depth = 1; place = .betweenCalls }
        case .done:
            break
        }
    }

    private mutating func endArguments(_ captured: inout [UInt8], _ events: inout [Event]) {
        argumentsDepth = nil
        flush(&captured, &events)
        place = .afterValue
    }
}
