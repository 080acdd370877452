/// A model's tokens as the bytes each one adds to the output, prepared for masking: built once
/// per vocabulary and shared by every constraint.
///
/// The bytes are what the detokenizer emits for a token (SentencePiece's `▁` already a space,
/// `<0x0A>` already the byte 0x0A). A token with no bytes — control, unknown, unused — is never
/// allowed by a constraint; end-of-generation tokens are allowed exactly when the constraint's
/// state is accepting.
public final class TokenVocabulary: Sendable {
    /// Number of token ids.
    public let count: Int
    /// All tokens' bytes back to back; token i is `storage[offsets[i]..<offsets[i+1]]`.
    let storage: [UInt8]
    let offsets: [Int32]
    /// End-of-generation ids, ascending.
    public let endOfGeneration: [Int32]
    let trie: TokenTrie

    /// `tokenBytes[i]` is token i's output bytes (empty for tokens that never appear in text).
    public init(tokenBytes: [[UInt8]], endOfGeneration: Set<Int32>) {
        count = tokenBytes.count
        var storage: [UInt8] = []
        storage.reserveCapacity(tokenBytes.reduce(0) { $0 + $1.count })
        var offsets: [Int32] = [0]
        offsets.reserveCapacity(tokenBytes.count + 1)
        for (id, bytes) in tokenBytes.enumerated() {
            // End-of-generation tokens are handled apart from the bytes they may render as.
            if !endOfGeneration.contains(Int32(id)) { storage.append(contentsOf: bytes) }
            offsets.append(Int32(storage.count))
        }
        self.storage = storage
        self.offsets = offsets
        self.endOfGeneration = endOfGeneration.filter { $0 >= 0 && Int($0) < tokenBytes.count }.sorted()
        trie = TokenTrie(storage: storage, offsets: offsets)
    }

    /// Token `id`'s bytes (empty for special tokens and ids out of range).
    public func bytes(_ id: Int32) -> ArraySlice<UInt8> {
        guard id >= 0, Int(id) < count else { return [] }
        return storage[Int(offsets[Int(id)])..<Int(offsets[Int(id) + 1])]
    }

    /// Whether `id` ends generation (allowed exactly where a constraint's state accepts).
    public func isEndOfGeneration(_ id: Int32) -> Bool {
        endOfGeneration.contains(id)
    }

    /// Nodes of the token trie (for measurements).
    public var trieNodeCount: Int { trie.byte.count }
}
