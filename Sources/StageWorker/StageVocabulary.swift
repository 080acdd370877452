import Constraints
import Foundation
import GGUF
import Tokenization
import WireProtocol

/// The model's tokens as output bytes, prepared for constraint masks: built from the GGUF's
/// tokenizer the first time a last stage needs it and then kept for the process's life, shared by
/// every last stage of the same model in the process (stages on threads, in tests, build it once).
/// Building it takes about 0.3 s on Gemma 3's 262,144 tokens in a release build (seconds in a
/// debug build), which is why it is not done at start-up for stages that never see a constraint.
enum StageVocabulary {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var built: [ModelIdentity: TokenVocabulary] = [:]

    /// The vocabulary of `file` (whose identity is `identity`), built once per process.
    static func vocabulary(of file: GGUFFile, identity: ModelIdentity) throws -> TokenVocabulary {
        lock.lock()
        defer { lock.unlock() }
        if let v = built[identity] { return v }
        let tokenizer = try Tokenizer(gguf: file)
        let bytes = (0 ..< Int32(tokenizer.vocabularySize)).map { tokenizer.tokenBytes($0) }
        let v = TokenVocabulary(tokenBytes: bytes, endOfGeneration: tokenizer.eogIDs)
        built[identity] = v
        return v
    }
}
