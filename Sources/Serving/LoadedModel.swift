import GGUF
import ModelRuntime
import Tokenization

/// A model file opened for serving, benchmarking or generating: the mapped GGUF, its
/// hyperparameters and its tokenizer; every problem names the file.
public struct LoadedModel: Sendable {
    public let file: GGUFFile
    public let hyperparameters: Hyperparameters
    public let tokenizer: Tokenizer

    public init(path: String) throws {
        do { file = try GGUFFile(path: path) } catch { throw ServingError("\(error)") }
        do {
            hyperparameters = try Hyperparameters(metadata: file.metadata, tensors: file.tensors)
            tokenizer = try Tokenizer(gguf: file)
        } catch { throw ServingError("\(path): \(error)") }
    }
}
