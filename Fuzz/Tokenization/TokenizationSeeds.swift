/// The seed corpus: a few texts (ASCII, specials, emoji, CJK, digits, contractions, whitespace
/// runs, invalid UTF-8), each behind control bytes choosing tokenizer and flags.
enum TokenizationSeeds {
    static let texts: [[UInt8]] = [
        Array("hello world".utf8),
        Array("<start_of_turn>user\nhi there<end_of_turn>\n<start_of_turn>model\n".utf8),
        Array("<|im_start|>system\nYou are helpful.<|im_end|><|endoftext|><tool>".utf8),
        Array("a😀é 日本語 🤖!\n\n  x ▁▁ <ab><cd> <a".utf8),
        Array("12345 1234567 ٣٤٥ I'm we'LL they're 's't".utf8),
        Array("\r\n \t  \u{00A0}\u{3000}end   ".utf8),
        [0x68, 0xC3, 0x28, 0xE2, 0x82, 0xF0, 0x9F, 0x98, 0x41, 0xFF, 0xFE, 0xED, 0xA0, 0x80],
        [0x00, 0x01, 0x7F, 0x80, 0xC0, 0xAF, 0xF4, 0x90, 0x80, 0x80],
    ]

    static var all: [[UInt8]] {
        var seeds: [[UInt8]] = []
        for (i, text) in texts.enumerated() {
            for choice in 0 ..< 8 {
                let flags = UInt8((i + choice) % 8) << 3
                seeds.append([UInt8(choice) | flags] + text)
            }
        }
        return seeds
    }
}
