/// A rendered chat prompt: its text and which parts of it are the template's own markup.
///
/// Only markup may turn into control tokens when the prompt is tokenized
/// (`Tokenizer.encode(_ chat:)`); the messages' content between it is plain text, whatever
/// special-token text it contains.
public struct ChatPrompt: Sendable, Equatable {
    /// The whole prompt.
    public private(set) var text = ""
    /// UTF-8 byte ranges of `text` written by the template (turn markers, role names).
    public private(set) var markup: [Range<Int>] = []

    public init() {}

    /// Appends template markup.
    mutating func markup(_ piece: String) {
        guard !piece.isEmpty else { return }
        let start = text.utf8.count
        text += piece
        if let last = markup.last, last.upperBound == start {
            markup[markup.count - 1] = last.lowerBound..<text.utf8.count
        } else {
            markup.append(start..<text.utf8.count)
        }
    }

    /// Appends message content (never parsed for special tokens).
    mutating func content(_ piece: String) {
        text += piece
    }
}
