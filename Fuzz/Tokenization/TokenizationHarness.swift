// libFuzzer harness for the tokenizer: encoding arbitrary text (from arbitrary bytes, invalid
// UTF-8 repaired the way a request's text would be) with and without special-token parsing,
// decoding arbitrary id lists (negative and out-of-range ids included) and streaming them
// through `StreamingDetokenizer`. The tokenizers are built once per process: small synthetic
// SentencePiece and byte-level BPE vocabularies (every pre-tokenizer family), and the demo
// model's when PIPESERVE_MODEL names a GGUF file. Built and run by scripts/fuzz-libfuzzer; not
// part of the normal build (see the end of Package.swift).
//
// Input layout:
//   byte 0   bits 0-2   which tokenizer (modulo how many were built)
//            bit 3      addSpecial     bit 4  parseSpecial     bit 5  renderSpecial
//   byte 1…  the text (bytes decoded as UTF-8, invalid sequences → U+FFFD), and also, read in
//            groups of 3 bytes, the ids to decode (spread over -8 ..< vocabulary + 8; 0xFFFF
//            prefixes give Int32.max and Int32.min)
//
// Invariants (a violation aborts, which libFuzzer reports as a crash): no trap and no hang;
// every encoded id is inside the vocabulary; BOS/EOS are where the flags say; the synthetic
// vocabularies round-trip text (decode ∘ encode is the identity, up to SentencePiece's ▁);
// streaming ids out one at a time gives exactly what `decode` gives for the whole list.

#if canImport(Glibc)
import Glibc
#endif
import GGUF
import Tokenization
import FuzzSupport

struct FuzzTokenizer {
    let name: String
    let tokenizer: Tokenizer
    let roundTrip: RoundTrip
}

/// What decode(encode(text)) must give back.
enum RoundTrip {
    /// Nothing promised (a space prefix is added; the model's vocabulary may lack pieces).
    case none
    /// The text itself.
    case exact
    /// The text with SentencePiece's space marker ▁ read as a space.
    case spaceMarkers
}

nonisolated(unsafe) var tokenizers: [FuzzTokenizer] = []

@_cdecl("LLVMFuzzerInitialize")
public func fuzzerInitialize(_ argc: UnsafeMutablePointer<Int32>,
                             _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>) -> Int32 {
    writeSeedsIfAsked(TokenizationSeeds.all)
    do {
        tokenizers = try SyntheticVocabularies.all().map { name, vocabulary, roundTrip in
            FuzzTokenizer(name: name, tokenizer: try Tokenizer(vocabulary: vocabulary), roundTrip: roundTrip)
        }
        if let path = getenv("PIPESERVE_MODEL").map({ String(cString: $0) }), !path.isEmpty {
            let model = try Tokenizer(gguf: try GGUFFile(path: path))
            tokenizers.append(FuzzTokenizer(name: "model", tokenizer: model, roundTrip: .none))
            printError("fuzz-tokenization: demo model tokenizer from \(path) (\(model.vocabularySize) tokens)")
        }
    } catch {
        printError("fuzz-tokenization: cannot build the tokenizers: \(error)")
        exit(1)
    }
    printError("fuzz-tokenization: tokenizers \(tokenizers.map(\.name).joined(separator: ", "))")
    return 0
}

@main enum FuzzMain {
    static func main() {
        runFuzzer { data, size in
            guard let data else { return 0 }
            return fuzzerTestOneInput(data, size)
        }
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzerTestOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let input = UnsafeBufferPointer(start: data, count: size)
    guard let control = input.first else { return 0 }
    let body = UnsafeBufferPointer(rebasing: input[1...])
    // The model's tokenizer (when built) gets indices 7 and beyond, the synthetic ones the rest.
    let choice = Int(control & 7)
    let entry = tokenizers[choice < tokenizers.count ? choice : choice % max(1, tokenizers.count)]
    let addSpecial = control & 0b0_1000 != 0
    let parseSpecial = control & 0b1_0000 != 0
    let renderSpecial = control & 0b10_0000 != 0
    let text = String(decoding: body, as: UTF8.self)
    checkEncoding(entry, text, addSpecial: addSpecial, parseSpecial: parseSpecial)
    checkDecoding(entry.tokenizer, ids(from: body, vocabularySize: entry.tokenizer.vocabularySize), renderSpecial: renderSpecial)
    return 0
}

func checkEncoding(_ entry: FuzzTokenizer, _ text: String, addSpecial: Bool, parseSpecial: Bool) {
    let t = entry.tokenizer
    let n = t.vocabularySize
    let ids = t.encode(text, addSpecial: addSpecial, parseSpecial: parseSpecial)
    require(ids.allSatisfy { $0 >= 0 && Int($0) < n }, "\(entry.name): encode gave an id outside 0..<\(n)")
    if addSpecial, t.addsBOS { require(ids.first == t.bosID, "\(entry.name): no BOS first") }
    if addSpecial, t.addsEOS { require(ids.last == t.eosID, "\(entry.name): no EOS last") }
    checkDecoding(t, ids, renderSpecial: parseSpecial)
    let expected: String
    switch entry.roundTrip {
    case .none: return
    case .exact: expected = text
    case .spaceMarkers: expected = text.replacingSpaceMarkers()
    }
    let plain = t.encode(text, addSpecial: false, parseSpecial: parseSpecial)
    let back = t.decode(plain, renderSpecial: parseSpecial)
    require(back == expected, "\(entry.name): \(text.debugDescription) decodes back as \(back.debugDescription)")
}

/// Decodes `ids` whole and streamed one at a time; the two must agree.
func checkDecoding(_ t: Tokenizer, _ ids: [Int32], renderSpecial: Bool) {
    let whole = t.decode(ids, renderSpecial: renderSpecial)
    var stream = StreamingDetokenizer(tokenizer: t, renderSpecial: renderSpecial)
    var streamed = ""
    for id in ids {
        streamed += stream.append(id)
        _ = t.tokenBytes(id, renderSpecial: renderSpecial)
        _ = t.tokenText(id)
        _ = t.isEndOfGeneration(id)
    }
    streamed += stream.flush()
    require(streamed == whole, "streamed \(streamed.debugDescription) but decode gives \(whole.debugDescription) for \(ids)")
    require(stream.flush().isEmpty, "flush left text behind")
}

/// Ids from 3-byte groups, spread over -8 ..< n + 8, with 0xFFFF prefixes for the Int32 extremes.
func ids(from bytes: UnsafeBufferPointer<UInt8>, vocabularySize n: Int) -> [Int32] {
    var out: [Int32] = []
    var i = 0
    while i + 3 <= bytes.count {
        let v = Int(bytes[i]) | Int(bytes[i + 1]) << 8 | Int(bytes[i + 2]) << 16
        if bytes[i] == 0xFF, bytes[i + 1] == 0xFF {
            out.append(bytes[i + 2] & 1 == 0 ? Int32.max : Int32.min)
        } else {
            out.append(Int32(v % (n + 16)) - 8)
        }
        i += 3
    }
    return out
}

extension String {
    /// SentencePiece's space marker ▁ (U+2581) decodes as a space.
    func replacingSpaceMarkers() -> String {
        String(String.UnicodeScalarView(unicodeScalars.map { $0 == "\u{2581}" ? " " : $0 }))
    }
}
