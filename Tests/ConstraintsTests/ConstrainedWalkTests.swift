import Foundation
import Testing

@testable import Constraints

/// The sampler's loop without a model: pick an allowed token (seeded choice, leaning towards
/// structure so that walks end), advance, repeat until end-of-generation. Every output must
/// parse as JSON of the schema's shape, and replaying its tokens must rebuild the same state.
@Suite struct ConstrainedWalkTests {
    typealias Random = SeededRandom

    /// Generates until an end-of-generation token; returns the tokens and the text.
    static func walk(_ masker: TokenMasker, seed: UInt64, maxSteps: Int = 400) -> (tokens: [Int32], text: [UInt8])? {
        var random = Random(state: seed)
        var state = masker.grammar.start()
        var tokens: [Int32] = []
        var text: [UInt8] = []
        let structural = Set(Array("\"{}[],:".utf8))
        for step in 0..<maxSteps {
            let allowed = masker.mask(for: state).allowedTokens
            guard !allowed.isEmpty else { return nil }
            if let end = allowed.first(where: { masker.vocabulary.isEndOfGeneration($0) }) {
                tokens.append(end)
                return (tokens, text)
            }
            // Lean towards tokens with structure, more so as the walk grows long.
            let leaning = allowed.filter { masker.vocabulary.bytes($0).contains(where: structural.contains) }
            let pool = !leaning.isEmpty && random.next() % 100 < UInt64(min(95, 40 + step)) ? leaning : allowed
            let token = pool[Int(random.next() % UInt64(pool.count))]
            #expect(masker.allows(token, in: state))
            guard masker.advance(&state, by: token) else { return nil }
            tokens.append(token)
            text += masker.vocabulary.bytes(token)
        }
        return nil
    }

    static let schema = #"""
        {"type":"object","properties":{
            "name":{"type":"string","maxLength":12},
            "age":{"type":"integer","minimum":0,"maximum":150},
            "tags":{"type":"array","items":{"enum":["a","b\"c"]},"maxItems":3},
            "ok":{"type":"boolean"}},
         "required":["name","age","tags","ok"],"additionalProperties":false}
        """#

    static func checkShape(_ text: [UInt8]) -> Bool {
        guard let object = try? JSONSerialization.jsonObject(with: Data(text)) as? [String: Any] else { return false }
        guard let name = object["name"] as? String, name.count <= 12, let age = object["age"] as? Int, (0...150).contains(age),
            let tags = object["tags"] as? [String], tags.count <= 3, tags.allSatisfy({ $0 == "a" || $0 == "b\"c" }),
            object["ok"] is Bool, object.count == 4
        else { return false }
        let keys = ["\"name\"", "\"age\"", "\"tags\"", "\"ok\""].compactMap { String(decoding: text, as: UTF8.self).range(of: $0)?.lowerBound }
        return keys.count == 4 && keys == keys.sorted()
    }

    @Test func walksOverAHandMadeVocabularyProduceValidJSON() throws {
        let grammar = try schemaGrammar(Self.schema)
        var pieces = TokenMaskTests.pieces.map { Array($0.utf8) }
        pieces += ["\"tags\":", "\"ok\":", "b\\\"c", "\"a\"", "150", "7", "99"].map { Array($0.utf8) }
        // Every printable byte alone, as byte-fallback tokens give a real vocabulary: no dead ends.
        pieces += (0x20...0x7E).map { [UInt8($0)] }.filter { !pieces.contains($0) }
        let masker = TokenMasker(grammar: grammar, vocabulary: TokenVocabulary(tokenBytes: pieces, endOfGeneration: [1]))
        var finished = 0
        for seed in UInt64(1)...40 {
            guard let (tokens, text) = Self.walk(masker, seed: seed) else { continue }
            finished += 1
            #expect(Self.checkShape(text), "seed \(seed): \(String(decoding: text, as: UTF8.self))")
            // Replay: the same tokens rebuild a state with the same mask.
            var replayed = grammar.start()
            for token in tokens.dropLast() { _ = masker.advance(&replayed, by: token) }
            #expect(replayed.isAccepting)
            #expect(masker.mask(for: replayed).contains(1))
        }
        #expect(finished >= 30, "only \(finished) of 40 walks finished")
    }

    @Test(.enabled(if: ProcessInfo.processInfo.environment["PIPESERVE_MODEL"] != nil, "PIPESERVE_MODEL not set"))
    func walksOverTheGemmaVocabularyProduceValidJSON() throws {
        let (_, vocabulary) = try #require(GemmaVocabularyTests.loaded)
        let masker = TokenMasker(grammar: try schemaGrammar(Self.schema), vocabulary: vocabulary)
        var finished = 0
        for seed in UInt64(1)...6 {
            guard let (_, text) = Self.walk(masker, seed: seed) else { continue }
            finished += 1
            #expect(Self.checkShape(text), "seed \(seed): \(String(decoding: text, as: UTF8.self))")
        }
        #expect(finished >= 4, "only \(finished) of 6 walks finished")
    }
}
