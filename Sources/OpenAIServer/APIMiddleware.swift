import Hummingbird
import Logging

/// Wraps every route (and the not-found responder): refuses new requests while draining, checks
/// the API key, turns every thrown error into its OpenAI error response through `APIError.map`,
/// counts responses by route and status and running requests for the drain, and logs one line
/// per request at debug level (never headers, bodies or prompts).
struct APIMiddleware<Context: RequestContext>: RouterMiddleware {
    let apiKeys: [[UInt8]]
    let metrics: OpenAIServerMetrics
    let drain: DrainState
    let logger: Logger
    let notReadyRetryAfterSeconds: Int
    let maxBodyBytes: Int

    init(configuration: OpenAIServerConfiguration, metrics: OpenAIServerMetrics, drain: DrainState, logger: Logger) {
        self.apiKeys = configuration.apiKeys.map { Array($0.utf8) }
        self.metrics = metrics
        self.drain = drain
        self.logger = logger
        self.notReadyRetryAfterSeconds = configuration.notReadyRetryAfterSeconds
        self.maxBodyBytes = configuration.maxBodyBytes
    }

    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        let path = request.uri.path
        var response: Response
        drain.requestStarted()
        do {
            if drain.isDraining && Routes.template(path: path) != Routes.metrics {
                throw APIError.shuttingDown(retryAfterSeconds: notReadyRetryAfterSeconds)
            }
            if !apiKeys.isEmpty, Routes.requiresAuth(path: path) {
                try Self.authorize(request, apiKeys: apiKeys)
            }
            response = try await next(request, context)
        } catch {
            let apiError = APIError.map(
                error, request: request, notReadyRetryAfterSeconds: notReadyRetryAfterSeconds, maxBodyBytes: maxBodyBytes)
            if apiError.status.code >= 500 && apiError.status != .serviceUnavailable {
                logger.warning(
                    "request failed",
                    metadata: [
                        "http.method": "\(request.method)", "http.route": "\(Routes.metricsLabel(path: path))",
                        "http.status": "\(apiError.status.code)", "error": "\(String(describing: error))",
                    ])
            }
            do { response = try apiError.response(from: request, context: context) } catch {
                drain.requestEnded()
                throw error
            }
        }
        // While draining every answer closes its connection, so keep-alive clients move on.
        if drain.isDraining { response.headers[.connection] = "close" }
        // A stream runs until its body has been written (or dropped: the ticket's deinit ends it
        // either way); any other answer is complete here.
        if response.headers[.contentType] == SSE.headers[.contentType] {
            let body = response.body
            let ticket = RunningRequest(drain)
            response.body = ResponseBody(contentLength: body.contentLength) { writer in
                defer { withExtendedLifetime(ticket) {} }
                try await body.write(writer)
            }
        } else {
            drain.requestEnded()
        }
        metrics.recordResponse(route: Routes.metricsLabel(path: path), status: response.status.code)
        logger.debug(
            "request",
            metadata: [
                "http.method": "\(request.method)", "http.route": "\(Routes.metricsLabel(path: path))",
                "http.status": "\(response.status.code)",
            ])
        return response
    }

    /// 401 unless `Authorization: Bearer <key>` matches one of the keys. Every key is compared,
    /// each in the same time wherever the first difference is; no key reaches a log or a response.
    static func authorize(_ request: Request, apiKeys: [[UInt8]]) throws(APIError) {
        guard let header = request.headers[.authorization] else { throw APIError.unauthorized(missing: true) }
        let prefix = "bearer "
        guard header.count > prefix.count, header.prefix(prefix.count).lowercased() == prefix else {
            throw APIError.unauthorized(missing: true)
        }
        let token = Array(header.dropFirst(prefix.count).trimmingSpaces.utf8)
        var matched = false
        for key in apiKeys where constantTimeEquals(token, key) { matched = true }
        guard matched else { throw APIError.unauthorized(missing: false) }
    }

    static func constantTimeEquals(_ given: [UInt8], _ expected: [UInt8]) -> Bool {
        var difference: UInt8 = given.count == expected.count ? 0 : 1
        for index in expected.indices {
            difference |= expected[index] ^ (index < given.count ? given[index] : 0)
        }
        return difference == 0
    }
}

/// A running stream, counted for the drain until the last reference to its body goes away.
private final class RunningRequest: Sendable {
    let drain: DrainState
    init(_ drain: DrainState) { self.drain = drain }
    deinit { drain.requestEnded() }
}

extension Substring {
    fileprivate var trimmingSpaces: Substring {
        var result = self
        while result.first == " " { result.removeFirst() }
        while result.last == " " { result.removeLast() }
        return result
    }
}
