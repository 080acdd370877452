// Byte-level BPE pre-tokenizers: split text into words before merges run.
// Reference: llama.cpp `src/unicode.cpp` (`unicode_regex_split`, `unicode_regex_split_custom_gpt2`,
// `unicode_regex_split_custom_llama3`) and the regex lists per `tokenizer.ggml.pre` in
// `llm_tokenizer_bpe`. The regexes are implemented by hand, scanning code points with the
// character classes below; each rule names the regex alternative it implements.

/// The split rules of one `tokenizer.ggml.pre` family.
enum PreTokenizer: Sendable, Equatable {
    /// `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
    case llama3
    /// As `llama3` but with `\p{N}` (single digits) instead of `\p{N}{1,3}`.
    case qwen2
    /// `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)`
    case gpt2
    /// `\p{N}` then the `gpt2` rule (StarCoder, Refact, Command-R, SmolLM, ...).
    case digitsThenGPT2
    /// llama.cpp's fallback list: `[\p{P}\$\+<=>\^~\|]+`, the `gpt2` rule, `\p{N}+`, `[0-9][0-9][0-9]`.
    case llamaDefault

    /// The llama.cpp pre-tokenizer type for a `tokenizer.ggml.pre` value, or nil when unsupported.
    init?(name: String?) {
        guard let name, !name.isEmpty else {
            self = .llamaDefault
            return
        }
        switch name {
        case "default":
            self = .llamaDefault
        case "llama3", "llama-v3", "llama-bpe", "falcon3", "falcon-h1", "pixtral", "midm-2.0", "lfm2",
             "jina-v5-nano", "dbrx", "smaug-bpe", "glm4", "chatglm-bpe":
            self = .llama3
        case "qwen2", "deepseek-r1-qwen", "kormo", "f2llmv2", "megrez", "stablelm2", "hunyuan",
             "solar-open", "grok-2":
            self = .qwen2
        case "gpt-2", "phi-2", "jina-es", "jina-de", "gigachat", "jina-v2-es", "jina-v2-de", "a.x-4.0",
             "mellum", "modern-bert", "mpt", "olmo", "jais", "trillion", "granite-docling", "exaone4",
             "jina-v1-en", "jina-v2-code", "roberta-bpe":
            self = .gpt2
        case "starcoder", "refact", "command-r", "smollm", "codeshell", "exaone", "minerva-7b", "mellum2":
            self = .digitsThenGPT2
        default:
            return nil
        }
    }

    /// Whether llama.cpp sets `ignore_merges` for this family: a word that is already a token
    /// is emitted whole, without running merges.
    var ignoresMerges: Bool { self == .llama3 }

    /// Whether llama.cpp adds BOS by default (when `add_bos_token` is absent) for this family.
    var addsBOSByDefault: Bool { self == .llama3 }

    /// Splits `scalars` into words; returns the half-open code-point ranges of the words, in order.
    func split(_ scalars: [Unicode.Scalar]) -> [Range<Int>] {
        let classes = scalars.map(CharClass.init)
        let whole = scalars.isEmpty ? [] : [0..<scalars.count]
        switch self {
        case .llama3:
            return whole.flatMap { LlamaStyleSplitter(scalars: scalars, classes: classes, chunk: $0, maxDigits: 3).run() }
        case .qwen2:
            return whole.flatMap { LlamaStyleSplitter(scalars: scalars, classes: classes, chunk: $0, maxDigits: 1).run() }
        case .gpt2:
            return whole.flatMap { GPT2Splitter(scalars: scalars, classes: classes, chunk: $0).run() }
        case .digitsThenGPT2:
            return whole
                .flatMap { Self.splitRuns($0, classes: classes, single: true) { $0.contains(.number) } }
                .flatMap { GPT2Splitter(scalars: scalars, classes: classes, chunk: $0).run() }
        case .llamaDefault:
            return whole
                .flatMap { Self.splitRuns($0, classes: classes, single: false) { $0.contains(.punctuation) || $0.contains(.defaultExtraPunct) } }
                .flatMap { GPT2Splitter(scalars: scalars, classes: classes, chunk: $0).run() }
                .flatMap { Self.splitRuns($0, classes: classes, single: false) { $0.contains(.number) } }
                .flatMap { Self.splitASCIIDigitTriples($0, scalars: scalars) }
        }
    }

    /// A regex `[class]+` (or `[class]` when `single`) applied to a chunk: matches and the gaps
    /// between them both become words.
    static func splitRuns(_ chunk: Range<Int>, classes: [CharClass], single: Bool, matches: (CharClass) -> Bool) -> [Range<Int>] {
        var out: [Range<Int>] = []
        var start = chunk.lowerBound
        var i = chunk.lowerBound
        while i < chunk.upperBound {
            if matches(classes[i]) {
                if start < i { out.append(start..<i) }
                var end = i + 1
                if !single {
                    while end < chunk.upperBound, matches(classes[end]) { end += 1 }
                }
                out.append(i..<end)
                start = end
                i = end
            } else {
                i += 1
            }
        }
        if start < chunk.upperBound { out.append(start..<chunk.upperBound) }
        return out
    }

    /// The regex `[0-9][0-9][0-9]` applied to a chunk.
    static func splitASCIIDigitTriples(_ chunk: Range<Int>, scalars: [Unicode.Scalar]) -> [Range<Int>] {
        func isDigit(_ i: Int) -> Bool { i < chunk.upperBound && ("0"..."9").contains(scalars[i]) }
        var out: [Range<Int>] = []
        var start = chunk.lowerBound
        var i = chunk.lowerBound
        while i < chunk.upperBound {
            if isDigit(i), isDigit(i + 1), isDigit(i + 2) {
                if start < i { out.append(start..<i) }
                out.append(i..<(i + 3))
                i += 3
                start = i
            } else {
                i += 1
            }
        }
        if start < chunk.upperBound { out.append(start..<chunk.upperBound) }
        return out
    }
}

/// The Unicode classes the split regexes use, as llama.cpp's `unicode_cpt_flags` defines them.
struct CharClass: OptionSet, Sendable {
    let rawValue: UInt8
    /// `\p{L}`: general category Lu, Ll, Lt, Lm, Lo.
    static let letter = CharClass(rawValue: 1 << 0)
    /// `\p{N}`: general category Nd, Nl, No.
    static let number = CharClass(rawValue: 1 << 1)
    /// `\s`: the Unicode White_Space property.
    static let whitespace = CharClass(rawValue: 1 << 2)
    /// `\p{P}`: general category Pc, Pd, Ps, Pe, Pi, Pf, Po.
    static let punctuation = CharClass(rawValue: 1 << 3)
    /// `$ + < = > ^ ~ |`, which llama.cpp's default regex adds to `\p{P}`.
    static let defaultExtraPunct = CharClass(rawValue: 1 << 4)

    init(rawValue: UInt8) { self.rawValue = rawValue }

    init(_ scalar: Unicode.Scalar) {
        if scalar.value < 128 {
            self = Self.ascii[Int(scalar.value)]
        } else {
            self = Self.compute(scalar)
        }
    }

    private static let ascii: [CharClass] = (0..<128).map { compute(Unicode.Scalar(UInt8($0))) }

    private static func compute(_ scalar: Unicode.Scalar) -> CharClass {
        var c: CharClass = []
        switch scalar.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter:
            c.insert(.letter)
        case .decimalNumber, .letterNumber, .otherNumber:
            c.insert(.number)
        case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation,
             .initialPunctuation, .finalPunctuation, .otherPunctuation:
            c.insert(.punctuation)
        default:
            break
        }
        if scalar.properties.isWhitespace { c.insert(.whitespace) }
        if "$+<=>^~|".unicodeScalars.contains(scalar) { c.insert(.defaultExtraPunct) }
        return c
    }

    /// `[^\s\p{L}\p{N}]`
    var isOther: Bool { isDisjoint(with: [.letter, .number, .whitespace]) }
}

/// Shared cursor helpers: positions outside the chunk read as "no character".
private struct ChunkView {
    let scalars: [Unicode.Scalar]
    let classes: [CharClass]
    let chunk: Range<Int>

    func scalar(_ i: Int) -> Unicode.Scalar? { chunk.contains(i) ? scalars[i] : nil }
    func cls(_ i: Int) -> CharClass? { chunk.contains(i) ? classes[i] : nil }
    func isLetter(_ i: Int) -> Bool { cls(i)?.contains(.letter) ?? false }
    func isNumber(_ i: Int) -> Bool { cls(i)?.contains(.number) ?? false }
    func isWhitespace(_ i: Int) -> Bool { cls(i)?.contains(.whitespace) ?? false }
    func isOther(_ i: Int) -> Bool { cls(i)?.isOther ?? false }
    func isCRLF(_ i: Int) -> Bool { scalar(i) == "\r" || scalar(i) == "\n" }

    /// Length of a contraction `'s|'t|'re|'ve|'m|'ll|'d` at `pos`, optionally case-insensitive.
    func contractionLength(at pos: Int, caseInsensitive: Bool) -> Int {
        guard scalar(pos) == "'", let c1 = lower(pos + 1, caseInsensitive) else { return 0 }
        if c1 == "s" || c1 == "t" || c1 == "m" || c1 == "d" { return 2 }
        guard let c2 = lower(pos + 2, caseInsensitive) else { return 0 }
        if (c1 == "r" && c2 == "e") || (c1 == "v" && c2 == "e") || (c1 == "l" && c2 == "l") { return 3 }
        return 0
    }

    private func lower(_ i: Int, _ caseInsensitive: Bool) -> Unicode.Scalar? {
        guard let s = scalar(i) else { return nil }
        if caseInsensitive, ("A"..."Z").contains(s) { return Unicode.Scalar(s.value + 32) }
        return s
    }
}

/// The LLaMA 3 / Qwen 2 regex, alternative by alternative (llama.cpp
/// `unicode_regex_split_custom_llama3`; Qwen 2 differs only in the digit group size).
private struct LlamaStyleSplitter {
    let view: ChunkView
    let maxDigits: Int

    init(scalars: [Unicode.Scalar], classes: [CharClass], chunk: Range<Int>, maxDigits: Int) {
        view = ChunkView(scalars: scalars, classes: classes, chunk: chunk)
        self.maxDigits = maxDigits
    }

    func run() -> [Range<Int>] {
        var out: [Range<Int>] = []
        var pos = view.chunk.lowerBound
        let end = view.chunk.upperBound
        var prevEnd = pos
        func emit(_ to: Int) {
            if to > prevEnd { out.append(prevEnd..<to) }
            prevEnd = to
        }
        while pos < end {
            // (?i:'s|'t|'re|'ve|'m|'ll|'d)
            let contraction = view.contractionLength(at: pos, caseInsensitive: true)
            if contraction > 0 {
                pos += contraction
                emit(pos)
                continue
            }
            // [^\r\n\p{L}\p{N}]?\p{L}+
            if !view.isCRLF(pos), !view.isNumber(pos), view.isLetter(pos) || view.isLetter(pos + 1) {
                pos += 1
                while view.isLetter(pos) { pos += 1 }
                emit(pos)
                continue
            }
            // \p{N}{1,maxDigits}
            if view.isNumber(pos) {
                var start = pos
                while view.isNumber(pos) {
                    pos += 1
                    if pos - start >= maxDigits {
                        emit(pos)
                        start = pos
                    }
                }
                emit(pos)
                continue
            }
            // ' '?[^\s\p{L}\p{N}]+[\r\n]*
            let afterSpace = view.scalar(pos) == " " ? pos + 1 : pos
            if view.isOther(afterSpace) {
                pos = afterSpace
                while view.isOther(pos) { pos += 1 }
                while view.isCRLF(pos) { pos += 1 }
                emit(pos)
                continue
            }
            var count = 0
            var lastNewlineEnd = 0
            while view.isWhitespace(pos + count) {
                if view.isCRLF(pos + count) { lastNewlineEnd = pos + count + 1 }
                count += 1
            }
            // \s*[\r\n]+
            if lastNewlineEnd > 0 {
                pos = lastNewlineEnd
                emit(pos)
                continue
            }
            // \s+(?!\S)
            if count > 1, pos + count < end {
                pos += count - 1
                emit(pos)
                continue
            }
            // \s+
            if count > 0 {
                pos += count
                emit(pos)
                continue
            }
            pos += 1
            emit(pos)
        }
        return out
    }
}

/// The GPT-2 regex (llama.cpp `unicode_regex_split_custom_gpt2`).
private struct GPT2Splitter {
    let view: ChunkView

    init(scalars: [Unicode.Scalar], classes: [CharClass], chunk: Range<Int>) {
        view = ChunkView(scalars: scalars, classes: classes, chunk: chunk)
    }

    func run() -> [Range<Int>] {
        var out: [Range<Int>] = []
        var pos = view.chunk.lowerBound
        let end = view.chunk.upperBound
        var prevEnd = pos
        func emit(_ to: Int) {
            if to > prevEnd { out.append(prevEnd..<to) }
            prevEnd = to
        }
        while pos < end {
            // 's|'t|'re|'ve|'m|'ll|'d
            let contraction = view.contractionLength(at: pos, caseInsensitive: false)
            if contraction > 0 {
                pos += contraction
                emit(pos)
                continue
            }
            let afterSpace = view.scalar(pos) == " " ? pos + 1 : pos
            // ' '?\p{L}+ , ' '?\p{N}+ , ' '?[^\s\p{L}\p{N}]+
            let runs: [(Int) -> Bool] = [view.isLetter, view.isNumber, view.isOther]
            if let matching = runs.first(where: { $0(afterSpace) }) {
                pos = afterSpace
                while matching(pos) { pos += 1 }
                emit(pos)
                continue
            }
            var count = 0
            while view.isWhitespace(pos + count) { count += 1 }
            // \s+(?!\S)
            if count > 1, pos + count < end {
                pos += count - 1
                emit(pos)
                continue
            }
            // \s+ (the original regex has no such alternative, but the leftover gap is one word)
            if count > 0 {
                pos += count
                emit(pos)
                continue
            }
            pos += 1
            emit(pos)
        }
        return out
    }
}
