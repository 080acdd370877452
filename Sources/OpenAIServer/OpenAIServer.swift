// OpenAIServer: the OpenAI-compatible HTTP front end of pipeserve, written against the
// `InferenceEngine` protocol (the executable adapts the pipeline to it).
//
// Routes: POST /v1/completions, POST /v1/chat/completions, GET /v1/models, GET /v1/models/{id},
// GET /health, GET /metrics. Decisions a client can observe:
// - Unknown body keys are rejected with 400 `unrecognized_argument` naming the key, as OpenAI
//   itself does (a typo such as `max_token` must not be silently ignored). OpenAI fields this
//   server does not implement (`best_of` > 1, `suffix`, `logit_bias`, tools, ...) are 400
//   `unsupported_parameter` unless null or at their default. `user` is accepted and ignored.
// - `model` may be omitted; naming another model is 404 `model_not_found`.
// - `usage.prompt_tokens` counts each prompt once (not once per `n` choice), as OpenAI and vLLM
//   do; `completion_tokens` sums all choices.
// - Choice i of a request samples with seed + i (prompt-major: index = prompt * n + choice).
// - Legacy `text_offset` counts code points from the start of the returned `text`.
// - The API key guards /v1/*; /health and /metrics stay open for probes and scrapers.
// - Errors after a stream started are sent as a `data: {"error": ...}` event, then `[DONE]`.
// - Request bodies, prompts and completions are never logged; per-request lines are debug.
// - Slow clients cannot hold a connection: the body must arrive within the request timeout
//   (else 408 and the connection is closed), and a connection on which nothing is read for
//   min(request timeout, 60 s) while no response is being produced (headers that never end, a
//   stalled body, an idle keep-alive) is closed. Streams and long generations are not affected.
// - A client that closes its connection (or only its sending side) cancels its request at once,
//   streaming or not (`ConnectionGuard`); `Expect: 100-continue` gets `100 Continue`.
// - POST bodies must be sent as `Content-Type: application/json` (415 otherwise): a web page in a
//   local browser can send `text/plain` cross-site without a CORS preflight, JSON it cannot. No
//   CORS headers are sent.
// - Draining (SIGTERM, `DrainingService`): the listener stays open, new requests get 503
//   `shutting_down` with Retry-After and `Connection: close`, running ones finish.

import Hummingbird
import Logging
import ServingTypes

/// The Hummingbird application type `makeApplication` returns.
public typealias OpenAIApplication = Application<RouterResponder<OpenAIRequestContext>>

/// Builds the OpenAI-compatible HTTP application for `engine`.
///
/// The result is a swift-service-lifecycle `Service`: add it to the executable's `ServiceGroup`
/// after the engine's services, so SIGTERM stops accepting connections first and lets
/// in-flight streams finish. `onServerRunning` receives the bound port once the listener is up
/// (the real one when `configuration.port` is 0), for the executable to print or notify.
public func makeApplication(
    engine: any InferenceEngine,
    configuration: OpenAIServerConfiguration,
    metrics: OpenAIServerMetrics = OpenAIServerMetrics(),
    drain: DrainState = DrainState(),
    logger: Logger,
    onServerRunning: @escaping @Sendable (_ port: Int) async -> Void = { _ in }
) -> OpenAIApplication {
    let router = makeRouter(engine: engine, configuration: configuration, metrics: metrics, drain: drain, logger: logger)
    let maxBodyBytes = configuration.maxBodyBytes
    return Application(
        router: router,
        server: .http1(configuration: .init(
            additionalChannelHandlers: [ConnectionGuard(maxBodyBytes: maxBodyBytes)],
            idleTimeout: .milliseconds(Int64(configuration.connectionIdleTimeoutSeconds * 1000)))),
        configuration: ApplicationConfiguration(
            address: .hostname(configuration.host, port: configuration.port), serverName: "pipeserve"),
        onServerRunning: { channel in
            await onServerRunning(channel.localAddress?.port ?? configuration.port)
        },
        logger: logger
    )
}

/// Builds the router alone, for embedding the routes in a larger Hummingbird application.
public func makeRouter(
    engine: any InferenceEngine,
    configuration: OpenAIServerConfiguration,
    metrics: OpenAIServerMetrics = OpenAIServerMetrics(),
    drain: DrainState = DrainState(),
    logger: Logger
) -> Router<OpenAIRequestContext> {
    let router = Router(context: OpenAIRequestContext.self)
    // Middleware first: it then wraps every route and the not-found responder.
    router.add(middleware: APIMiddleware(configuration: configuration, metrics: metrics, drain: drain, logger: logger))
    let handlers = Handlers(engine: engine, configuration: configuration, metrics: metrics, logger: logger)
    router.post(RouterPath(Routes.completions)) { request, context in
        try await handlers.completions(request, context: context)
    }
    router.post(RouterPath(Routes.chatCompletions)) { request, context in
        try await handlers.chatCompletions(request, context: context)
    }
    router.get(RouterPath(Routes.models)) { request, context in
        try handlers.models(request, context: context)
    }
    router.get(RouterPath(Routes.modelPrefix + ":id")) { request, context in
        try handlers.model(request, context: context)
    }
    router.get(RouterPath(Routes.health)) { request, context in
        try handlers.health(request, context: context)
    }
    router.get(RouterPath(Routes.metrics)) { request, context in
        try handlers.metrics(request, context: context)
    }
    return router
}

/// A stream write failed: the client closed the connection.
struct ClientDisconnected: Error {}

/// Reading the request body failed below us (the HTTP parser rejected its framing, or the
/// connection ended inside it): 400, not 500.
struct UnreadableBody: Error {
    let underlying: any Error
}

/// The route handlers and what they share.
struct Handlers: Sendable {
    let engine: any InferenceEngine
    let configuration: OpenAIServerConfiguration
    let metrics: OpenAIServerMetrics
    let logger: Logger
    /// `created` of the model object: when the server started.
    let created = unixTime()

    /// Reads the body up to `maxBodyBytes` (413 as soon as the limit is passed) and parses it.
    /// The whole body must arrive within the request timeout, counted from `startedAt`: a client
    /// that sends it slowly, or stops half-way, gets 408 and `onBodyTimeout` runs (the route closes
    /// the connection with it), so it cannot hold a connection and a task for ever.
    func readJSON(
        _ request: Request, startedAt: ContinuousClock.Instant = .now, onBodyTimeout: @Sendable () -> Void = {}
    ) async throws -> JSONValue {
        try Self.requireJSONContentType(request)
        if let length = request.headers[.contentLength].flatMap({ Int($0) }), length > configuration.maxBodyBytes {
            throw APIError.payloadTooLarge(limit: configuration.maxBodyBytes)
        }
        let limit = configuration.maxBodyBytes
        let body = request.body
        @Sendable func collect() async throws -> [UInt8] {
            var collected: [UInt8] = []
            do {
                for try await buffer in body {
                    guard collected.count + buffer.readableBytes <= limit else { throw APIError.payloadTooLarge(limit: limit) }
                    collected.append(contentsOf: buffer.readableBytesView)
                }
            } catch let error as APIError {
                throw error
            } catch is CancellationError {
                throw CancellationError()
            } catch {
                throw UnreadableBody(underlying: error)  // the HTTP parser's: a client error, not ours
            }
            return collected
        }
        guard let timeout = configuration.requestTimeoutSeconds else { return try JSONValue.parseObject(try await collect()) }
        let deadline = startedAt + .milliseconds(Int64((timeout * 1000).rounded(.up)))
        let collected = try await withThrowingTaskGroup(of: [UInt8]?.self) { group in
            group.addTask { try await collect() }
            group.addTask {
                try await Task.sleep(until: deadline, clock: .continuous)
                return nil
            }
            defer { group.cancelAll() }  // the loser: the timer, or the body read (which then stops reading)
            return try await group.next() ?? nil
        }
        guard let collected else {
            onBodyTimeout()
            throw APIError.bodyTimeout(seconds: timeout)
        }
        return try JSONValue.parseObject(collected)
    }

    /// 415 unless the body is declared as JSON (`application/json`, parameters such as charset
    /// allowed). Browsers send `text/plain`, form and multipart bodies cross-site without a CORS
    /// preflight; refusing them keeps a web page from starting generations on a key-less server.
    static func requireJSONContentType(_ request: Request) throws(APIError) {
        let declared = request.headers[.contentType] ?? ""
        let mediaType = declared.split(separator: ";", maxSplits: 1).first.map { $0.filter { $0 != " " && $0 != "\t" }.lowercased() } ?? ""
        guard mediaType == "application/json" else { throw APIError.unsupportedMediaType(declared) }
    }

    /// 400 when a request asks for more sequences than the engine's queue can ever hold.
    func checkSequenceCount(prompts: Int, n: Int) throws(APIError) {
        guard let limit = configuration.maxSequencesPerRequest, prompts * n > limit else { return }
        throw APIError.invalidRequest(
            "This request asks for \(prompts * n) sequences (\(prompts) prompt(s) × n = \(n)); the server admits at most \(limit) per request (scheduler.max_queue).",
            param: "n", code: "too_many_sequences")
    }

    /// 404 when the request names a model other than the served one.
    func checkModel(_ model: String?) throws(APIError) {
        if let model, model != engine.modelName { throw APIError.modelNotFound(model) }
    }

    /// 503 while loading or failed (the engine's own check in `generate` stays authoritative).
    /// While recovering (stages restarting, a new partition being applied) requests are accepted
    /// and wait: clients see a delay, not an error; /health still says 503 so that a load
    /// balancer can prefer another replica meanwhile.
    func checkReady() throws(APIError) {
        switch engine.health {
        case .ready, .recovering: return
        case .loading(let reason), .failed(let reason):
            throw APIError.notReady(reason, retryAfterSeconds: configuration.notReadyRetryAfterSeconds)
        }
    }

    /// 400 unless prompt + completion fit the context window.
    func checkContext(promptTokens: Int, maxTokens: Int, param: String) throws(APIError) {
        if promptTokens + maxTokens > engine.contextLength {
            throw APIError.contextLengthExceeded(
                prompt: promptTokens, completion: maxTokens, limit: engine.contextLength, param: param)
        }
    }

    func runner(startedAt: ContinuousClock.Instant) -> SequenceRunner {
        SequenceRunner(
            engine: engine, metrics: metrics, timeoutSeconds: configuration.requestTimeoutSeconds, startedAt: startedAt)
    }

    func jsonResponse(_ json: JSONValue, status: HTTPResponse.Status = .ok, requestID: RequestID? = nil) -> Response {
        var headers: HTTPFields = [.contentType: "application/json"]
        if let requestID { headers[HeaderName("x-request-id")!] = requestID.description }
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(string: json.serialized)))
    }

    func sseResponse(requestID: RequestID, _ write: @escaping @Sendable (inout any ResponseBodyWriter) async throws -> Void) -> Response {
        var headers = SSE.headers
        headers[HeaderName("x-request-id")!] = requestID.description
        return Response(status: .ok, headers: headers, body: ResponseBody(write))
    }

    /// Writes one SSE event; a failed write means the client has gone.
    func send(_ writer: inout any ResponseBodyWriter, _ json: JSONValue) async throws(ClientDisconnected) {
        do {
            try await writer.write(SSE.event(json))
        } catch {
            throw ClientDisconnected()
        }
    }

    /// Writes an SSE comment line (ignored by clients); a failed write means the client has gone.
    func sendKeepAlive(_ writer: inout any ResponseBodyWriter) async throws(ClientDisconnected) {
        do {
            try await writer.write(ByteBuffer(string: ": keep-alive\n\n"))
        } catch {
            throw ClientDisconnected()
        }
    }

    /// Writes the error event and `[DONE]` that end a stream which failed after it started.
    /// Throws only if the client is gone.
    func endStream(_ writer: inout any ResponseBodyWriter, error: any Error, requestID: RequestID) async throws {
        let apiError = APIError.map(
            error, request: nil, notReadyRetryAfterSeconds: configuration.notReadyRetryAfterSeconds,
            maxBodyBytes: configuration.maxBodyBytes)
        logger.warning(
            "stream ended with an error",
            metadata: ["request.id": "\(requestID)", "error.code": "\(apiError.code ?? "")", "error": "\(apiError.message)"])
        try await writer.write(SSE.event(apiError.json))
        try await writer.write(SSE.done)
        try await writer.finish(nil)
    }
}
