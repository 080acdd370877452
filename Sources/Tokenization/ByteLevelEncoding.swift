// GPT-2's reversible byte ↔ Unicode mapping (`bytes_to_unicode` in openai/gpt-2 encoder.py;
// llama.cpp `unicode_byte_to_utf8_map`): printable Latin-1 bytes map to themselves, the other
// 68 bytes to U+0100, U+0101, ... in byte order, so every byte is a visible character.

enum ByteLevelEncoding {
    /// UTF-8 bytes of the character standing for each byte value.
    static let byteToUTF8: [[UInt8]] = {
        var scalarFor = [UInt32](repeating: 0, count: 256)
        var assigned = [Bool](repeating: false, count: 256)
        for b in 0..<256 where (0x21...0x7E).contains(b) || (0xA1...0xAC).contains(b) || (0xAE...0xFF).contains(b) {
            scalarFor[b] = UInt32(b)
            assigned[b] = true
        }
        var n: UInt32 = 0
        for b in 0..<256 where !assigned[b] {
            scalarFor[b] = 256 + n
            n += 1
        }
        return scalarFor.map { value in Unicode.Scalar(value).map { Array(String($0).utf8) } ?? [] }
    }()

    /// The byte each mapped character stands for, keyed by its scalar value.
    static let scalarToByte: [UInt32: UInt8] = {
        var map: [UInt32: UInt8] = [:]
        for (b, utf8) in byteToUTF8.enumerated() {
            if let scalar = String(decoding: utf8, as: UTF8.self).unicodeScalars.first {
                map[scalar.value] = UInt8(b)
            }
        }
        return map
    }()

    /// Encodes raw bytes as the byte-level alphabet (what merges and token texts are written in).
    static func encode(_ bytes: some Sequence<UInt8>) -> [UInt8] {
        var out: [UInt8] = []
        for b in bytes { out.append(contentsOf: byteToUTF8[Int(b)]) }
        return out
    }

    /// Decodes byte-level token text back to raw bytes. A character outside the alphabet is
    /// kept as its own UTF-8 (llama.cpp writes an `[UNK_BYTE_0x..]` marker instead).
    static func decode(_ text: String) -> [UInt8] {
        var out: [UInt8] = []
        for scalar in text.unicodeScalars {
            if let b = scalarToByte[scalar.value] {
                out.append(b)
            } else {
                out.append(contentsOf: String(scalar).utf8)
            }
        }
        return out
    }
}
