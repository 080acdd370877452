/// Turns generated ids into text one id at a time without ever emitting half a character:
/// an emoji spread over four `<0xNN>` byte tokens comes out whole, with the fourth token.
public struct StreamingDetokenizer: Sendable {
    private let tokenizer: Tokenizer
    private let renderSpecial: Bool
    private var pending: [UInt8] = []

    /// A detokenizer over `tokenizer`; control tokens render empty unless `renderSpecial`.
    public init(tokenizer: Tokenizer, renderSpecial: Bool = false) {
        self.tokenizer = tokenizer
        self.renderSpecial = renderSpecial
    }

    /// Adds one id; returns the text that is now complete (possibly empty). A trailing
    /// incomplete UTF-8 sequence is held back until the bytes that finish it arrive; bytes that
    /// can never form a character come out as U+FFFD.
    public mutating func append(_ id: Int32) -> String {
        pending.append(contentsOf: tokenizer.tokenBytes(id, renderSpecial: renderSpecial))
        let cut = Self.completePrefixLength(pending)
        guard cut > 0 else { return "" }
        let text = String(decoding: pending[..<cut], as: UTF8.self)
        pending.removeFirst(cut)
        return text
    }

    /// Returns whatever is held back (an unfinished sequence becomes U+FFFD) and resets.
    public mutating func flush() -> String {
        defer { pending.removeAll() }
        return String(decoding: pending, as: UTF8.self)
    }

    /// Length of the longest prefix that does not end inside a UTF-8 sequence which later
    /// bytes could still complete.
    static func completePrefixLength(_ bytes: [UInt8]) -> Int {
        var i = bytes.count - 1
        let lowest = max(0, bytes.count - 4)
        while i >= lowest {
            let byte = bytes[i]
            if byte & 0xC0 == 0x80 {
                i -= 1
                continue
            }
            let needed: Int
            switch byte {
            case 0xC2...0xDF: needed = 2
            case 0xE0...0xEF: needed = 3
            case 0xF0...0xF4: needed = 4
            default: return bytes.count  // ASCII or a byte that starts nothing: all complete
            }
            return bytes.count - i < needed ? i : bytes.count
        }
        return bytes.count
    }
}
