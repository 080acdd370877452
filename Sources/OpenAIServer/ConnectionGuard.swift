import HTTPTypes
import NIOCore
import NIOHTTPTypes

/// A channel handler placed after HTTP decoding on every connection:
///
/// - **A client that closes its side has gone.** The server allows TCP half-closure (HTTP
///   pipelining over a half-closed socket), so a client's FIN alone does not close the channel,
///   and a request that writes nothing until it is complete (a non-streaming completion) would
///   otherwise generate on, holding its KV cache and a running slot, until `max_tokens` or the
///   request timeout. When the input side closes while a request is being answered, the
///   connection is closed: the request's `onConnectionClose` cancels its sequences at once.
///   (A client that half-closes after sending a request therefore gets no answer, as with
///   uvicorn/vLLM: none of the OpenAI clients does that.)
/// - **`Expect: 100-continue`** is answered with `100 Continue` as soon as the head arrives, so
///   clients that wait for it (curl for large bodies, some SDKs) send the body at once. A request
///   whose declared length is already over the body limit gets no `100 Continue`: its 413 is sent
///   without waiting for a body that would be discarded.
final class ConnectionGuard: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    private let maxBodyBytes: Int
    /// A request head has arrived and its final response has not been fully written.
    private var answering = false

    init(maxBodyBytes: Int) {
        self.maxBodyBytes = maxBodyBytes
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .head(let head) = unwrapInboundIn(data) {
            answering = true
            if let expect = head.headerFields[.expect], expect.lowercased() == "100-continue",
               !declaresTooLargeBody(head) {
                context.writeAndFlush(wrapOutboundOut(.head(HTTPResponse(status: .continue))), promise: nil)
            }
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data) { answering = false }
        context.write(data, promise: promise)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case ChannelEvent.inputClosed = event, answering {
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    private func declaresTooLargeBody(_ head: HTTPRequest) -> Bool {
        guard let length = head.headerFields[.contentLength].flatMap({ Int($0) }) else { return false }
        return length > maxBodyBytes
    }
}
