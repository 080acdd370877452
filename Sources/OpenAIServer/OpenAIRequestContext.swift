import Hummingbird

/// The request context of the OpenAI routes: Hummingbird's core context plus a way to learn
/// that the client's connection closed, so that a non-streaming request (or a stream that is
/// waiting for its first token) is cancelled at once rather than at its next write.
public struct OpenAIRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// Registers a callback run once the connection closes (immediately if it already has).
    let onConnectionClose: @Sendable (@escaping @Sendable () -> Void) -> Void
    /// Closes the connection after `seconds` (time for a final response to be written), whatever
    /// the client is still sending: used when a request body is too slow.
    let closeConnection: @Sendable (_ afterSeconds: Double) -> Void

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        let channel = source.channel
        onConnectionClose = { callback in channel.closeFuture.whenComplete { _ in callback() } }
        closeConnection = { seconds in
            channel.eventLoop.scheduleTask(in: .milliseconds(Int64(seconds * 1000))) { channel.close(promise: nil) }
        }
    }
}
