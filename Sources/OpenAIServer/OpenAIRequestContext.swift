import Hummingbird

/// The request context of the OpenAI routes: Hummingbird's core context plus a way to learn
/// that the client's connection closed, so that a non-streaming request (or a stream that is
/// waiting for its first token) is cancelled at once rather than at its next write.
public struct OpenAIRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// Registers a callback run once the connection closes (immediately if it already has).
    let onConnectionClose: @Sendable (@escaping @Sendable () -> Void) -> Void

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        let closeFuture = source.channel.closeFuture
        onConnectionClose = { callback in closeFuture.whenComplete { _ in callback() } }
    }
}
