/// Finds tool calls in a model's free text (`tool_choice: "auto"`), piece by piece as it
/// streams, in the syntax its chat template asked for (`ToolCallFormat`).
///
/// A pure state machine: text in, decided output out. Text that could still turn out to be part
/// of a call is held back until it is decided, so the outputs never have to be taken back:
/// streamed or not, and however the text is cut into pieces, the outputs join to the same
/// content and calls, and every byte of the text is either content or inside a call.
///
/// A call counts only when it names a declared function and its arguments are a JSON object
/// (`"arguments"` or `"parameters"`; a JSON string holding an object is accepted too); anything
/// else stays text. Arguments are returned as compact JSON.
///
/// - `taggedJSON`: text outside `<tool_call>…</tool_call>` blocks is content, streamed as it
///   comes (only a tail that could begin `<tool_call>`, and whitespace that could precede one, is
///   held). A block is decided when it closes: a call, or — not valid, over `maxCalls`, or never
///   closed — its text goes to the content as written. Whitespace between a call and its
///   neighbours is dropped.
/// - `bareJSON`: the whole reply is the calls or it is text. A reply whose first non-blank
///   character is not `{`, `[` or a code fence streams as text at once; one that starts like a
///   call is held to the end and then parsed: one `{"name", "parameters"}` object (no other
///   members), several separated by `;` or whitespace, or a JSON array of them, optionally inside
///   a ``` fence. Held text that stops looking like a call (`{` not followed by a key, …) is
///   released as text early.
struct ToolCallParser: Sendable {
    enum Output: Sendable, Equatable {
        case content(String)
        case call(name: String, arguments: String)
    }

    let format: ToolCallFormat
    let functions: Set<String>
    /// Calls beyond this count stay text (`parallel_tool_calls: false` allows one).
    let maxCalls: Int
    private(set) var callCount = 0

    private var held: [UInt8] = []
    // taggedJSON
    private var inBlock = false
    private var blankBeforeBlock: [UInt8] = []
    private var afterCall = false
    private var searchedTo = 0
    // bareJSON
    private enum Reply { case undecided, text, candidate }
    private var reply = Reply.undecided

    static let openTag = Array("<tool_call>".utf8)
    static let closeTag = Array("</tool_call>".utf8)

    init(format: ToolCallFormat, functions: Set<String>, maxCalls: Int = .max) {
        self.format = format
        self.functions = functions
        self.maxCalls = max(1, maxCalls)
    }

    /// Feeds the next piece of text; returns what is decided now, in order.
    mutating func append(_ piece: String) -> [Output] {
        held.append(contentsOf: piece.utf8)
        var out: [Output] = []
        switch format {
        case .taggedJSON: scanTagged(&out)
        case .bareJSON: scanBare(&out)
        }
        return out
    }

    /// The text ended: decides what is still held.
    mutating func finish() -> [Output] {
        var out: [Output] = []
        switch format {
        case .taggedJSON:
            if inBlock {
                emit(blankBeforeBlock + Self.openTag + held, &out)  // a block never closed is text
                inBlock = false
            } else if !afterCall {
                emit(held, &out)
            }
        case .bareJSON:
            if reply == .candidate, let calls = Self.bareCalls(held, functions: functions), calls.count <= maxCalls {
                callCount = calls.count
                out = calls.map { .call(name: $0.name, arguments: $0.arguments) }
            } else {
                emit(held, &out)
            }
            reply = .text
        }
        held = []
        return out
    }

    private func emit(_ bytes: some Collection<UInt8>, _ out: inout [Output]) {
        guard !bytes.isEmpty else { return }
        let text = String(decoding: bytes, as: UTF8.self)
        if case .content(let previous)? = out.last {
            out[out.count - 1] = .content(previous + text)
        } else {
            out.append(.content(text))
        }
    }

    static func isBlank(_ b: UInt8) -> Bool { b == 0x20 || b == 0x0A || b == 0x09 || b == 0x0D }

    // MARK: taggedJSON

    private mutating func scanTagged(_ out: inout [Output]) {
        while true {
            if inBlock {
                guard let end = Self.find(Self.closeTag, in: held, from: searchedTo) else {
                    searchedTo = max(0, held.count - Self.closeTag.count + 1)
                    return
                }
                let body = held[..<end]
                if callCount < maxCalls, let call = Self.call(in: body, functions: functions, requireArguments: false) {
                    out.append(.call(name: call.name, arguments: call.arguments))
                    callCount += 1
                    afterCall = true
                } else {
                    emit(blankBeforeBlock + Self.openTag + body + Self.closeTag, &out)
                }
                held.removeFirst(end + Self.closeTag.count)
                inBlock = false
                blankBeforeBlock = []
                searchedTo = 0
                continue
            }
            if afterCall {
                guard let first = held.firstIndex(where: { !Self.isBlank($0) }) else {
                    held = []  // whitespace right after a call
                    return
                }
                held.removeFirst(first)
                afterCall = false
            }
            if let start = Self.find(Self.openTag, in: held, from: 0) {
                var blank = start
                while blank > 0, Self.isBlank(held[blank - 1]) { blank -= 1 }
                emit(held[..<blank], &out)
                blankBeforeBlock = Array(held[blank ..< start])
                held.removeFirst(start + Self.openTag.count)
                inBlock = true
                searchedTo = 0
                continue
            }
            // Hold a tail that may begin the tag, and the whitespace before it.
            var cut = held.count - Self.tagPrefixLength(atEndOf: held)
            while cut > 0, Self.isBlank(held[cut - 1]) { cut -= 1 }
            emit(held[..<cut], &out)
            held.removeFirst(cut)
            return
        }
    }

    /// The longest suffix of `bytes` that is a proper prefix of `<tool_call>`.
    static func tagPrefixLength(atEndOf bytes: [UInt8]) -> Int {
        for length in stride(from: min(openTag.count - 1, bytes.count), to: 0, by: -1)
        where bytes[(bytes.count - length)...].elementsEqual(openTag[..<length]) {
            return length
        }
        return 0
    }

    static func find(_ needle: [UInt8], in haystack: [UInt8], from start: Int) -> Int? {
        guard haystack.count >= needle.count, start <= haystack.count - needle.count else { return nil }
        for i in start ... (haystack.count - needle.count) where haystack[i] == needle[0] {
            if haystack[i ..< (i + needle.count)].elementsEqual(needle) { return i }
        }
        return nil
    }

    // MARK: bareJSON

    private mutating func scanBare(_ out: inout [Output]) {
        switch reply {
        case .text:
            emit(held, &out)
            held = []
        case .undecided, .candidate:
            guard let first = held.firstIndex(where: { !Self.isBlank($0) }) else { return }
            if Self.mayBeginCalls(held[first...]) {
                reply = .candidate
            } else {
                reply = .text
                emit(held, &out)
                held = []
            }
        }
    }

    /// Whether text that starts with a non-blank character may still become bare calls: an
    /// optional ``` fence line, an optional `[`, then `{` and a key's opening quote.
    static func mayBeginCalls(_ text: ArraySlice<UInt8>) -> Bool {
        var i = text.startIndex
        func skipBlanks() { while i < text.endIndex, isBlank(text[i]) { i += 1 } }
        if text[i] == 0x60 {  // `
            let fence: [UInt8] = [0x60, 0x60, 0x60]
            let n = min(3, text.endIndex - i)
            guard text[i ..< (i + n)].elementsEqual(fence[..<n]) else { return false }
            guard let newline = text[i...].firstIndex(of: 0x0A) else { return true }
            i = newline + 1
            skipBlanks()
        }
        guard i < text.endIndex else { return true }
        if text[i] == 0x5B {  // [
            i += 1
            skipBlanks()
            guard i < text.endIndex else { return true }
        }
        guard text[i] == 0x7B else { return false }  // {
        i += 1
        skipBlanks()
        return i == text.endIndex || text[i] == 0x22
    }

    /// The calls a whole bare reply makes, or nil when it is not (only) calls.
    static func bareCalls(_ text: [UInt8], functions: Set<String>) -> [(name: String, arguments: String)]? {
        var body = text[...]
        func trim() {
            while let f = body.first, isBlank(f) { body = body.dropFirst() }
            while let l = body.last, isBlank(l) { body = body.dropLast() }
        }
        trim()
        if body.starts(with: [0x60, 0x60, 0x60]) {
            guard let newline = body.firstIndex(of: 0x0A) else { return nil }
            body = body[(newline + 1)...]
            trim()
            guard body.count >= 3, body.suffix(3).elementsEqual([0x60, 0x60, 0x60]) else { return nil }
            body = body.dropLast(3)
            trim()
        }
        guard let first = body.first else { return nil }
        var calls: [(name: String, arguments: String)] = []
        if first == 0x5B {
            guard case .array(let items)? = JSONValue.parse(Array(body)), !items.isEmpty else { return nil }
            for item in items {
                guard let call = call(from: item, functions: functions, requireArguments: true, onlyCallMembers: true) else { return nil }
                calls.append(call)
            }
            return calls
        }
        while true {
            while let f = body.first, isBlank(f) || f == 0x3B { body = body.dropFirst() }  // blanks and ;
            guard !body.isEmpty else { break }
            guard let end = valueEnd(body), let call = call(in: body[..<end], functions: functions, requireArguments: true,
                                                             onlyCallMembers: true) else { return nil }
            calls.append(call)
            body = body[end...]
        }
        return calls.isEmpty ? nil : calls
    }

    /// Where the object starting `text` ends (just past its closing brace), strings respected;
    /// nil when `text` does not start with `{` or the object does not close.
    static func valueEnd(_ text: ArraySlice<UInt8>) -> Int? {
        guard text.first == 0x7B else { return nil }
        var depth = 0
        var inString = false
        var escaped = false
        for i in text.indices {
            let b = text[i]
            if inString {
                if escaped { escaped = false } else if b == 0x5C { escaped = true } else if b == 0x22 { inString = false }
                continue
            }
            switch b {
            case 0x22: inString = true
            case 0x7B, 0x5B: depth += 1
            case 0x7D, 0x5D:
                depth -= 1
                if depth == 0 { return i + 1 }
            default: break
            }
        }
        return nil
    }

    // MARK: one call

    static func call(in text: ArraySlice<UInt8>, functions: Set<String>, requireArguments: Bool,
                     onlyCallMembers: Bool = false) -> (name: String, arguments: String)? {
        guard let value = JSONValue.parse(Array(text)) else { return nil }
        return call(from: value, functions: functions, requireArguments: requireArguments, onlyCallMembers: onlyCallMembers)
    }

    /// `{"name": declared function, "arguments" or "parameters": object}` → the call.
    static func call(from value: JSONValue, functions: Set<String>, requireArguments: Bool,
                     onlyCallMembers: Bool) -> (name: String, arguments: String)? {
        guard case .object(let members) = value, case .string(let name)? = value["name"], functions.contains(name) else { return nil }
        let keys = Set(members.map(\.0))
        if onlyCallMembers, keys.count != members.count || !keys.isSubset(of: ["name", "arguments", "parameters"]) { return nil }
        guard let arguments = value["arguments"] ?? value["parameters"] else {
            return requireArguments ? nil : (name, "{}")
        }
        switch arguments {
        case .object:
            return (name, arguments.serialized)
        case .string(let text):
            guard let inner = JSONValue.parse(Array(text.utf8)), case .object = inner else { return nil }
            return (name, inner.serialized)
        default:
            return nil
        }
    }
}
