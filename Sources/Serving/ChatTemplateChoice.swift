import GGUF
import Tokenization

/// Which chat format the daemon renders `/v1/chat/completions` with: the configured one, else
/// the model's Jinja template recognised by its markers, else — for a model without a template
/// (Gemma 3 270M's GGUF has none) — the one family whose turn tokens are special tokens of its
/// vocabulary. When none fits, chat requests get a 400 naming `problem`.
public struct ChatTemplateChoice: Sendable {
    public var template: ChatTemplate?
    public var problem: String?
    /// Said in the log when the template was inferred from the vocabulary.
    public var note: String?

    public init(configured: String?, metadata: GGUFMetadata, tokenizer: Tokenizer) {
        if let name = configured {
            template = ChatTemplate(rawValue: name)
            return
        }
        let jinja = (try? metadata.optionalString("tokenizer.chat_template")) ?? nil
        do { template = try ChatTemplate.recognise(jinja) } catch {
            if jinja == nil, let inferred = ChatTemplate.infer(fromVocabulary: tokenizer) {
                template = inferred
                note = "the model has no chat template; using \(inferred.rawValue), whose turn tokens are in its vocabulary"
            } else {
                problem = "\(error)"
            }
        }
    }
}
