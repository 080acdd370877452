import Hummingbird
import Logging

/// Wraps every route (and the not-found responder): checks the API key, turns every thrown error
/// into its OpenAI error response through `APIError.map`, counts responses by route and status,
/// and logs one line per request at debug level (never headers, bodies or prompts).
struct APIMiddleware<Context: RequestContext>: RouterMiddleware {
    let apiKey: [UInt8]?
    let metrics: OpenAIServerMetrics
    let logger: Logger
    let notReadyRetryAfterSeconds: Int
    let maxBodyBytes: Int

    init(configuration: OpenAIServerConfiguration, metrics: OpenAIServerMetrics, logger: Logger) {
        self.apiKey = configuration.apiKey.map { Array($0.utf8) }
        self.metrics = metrics
        self.logger = logger
        self.notReadyRetryAfterSeconds = configuration.notReadyRetryAfterSeconds
        self.maxBodyBytes = configuration.maxBodyBytes
    }

    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        let path = request.uri.path
        let response: Response
        do {
            if let apiKey, Routes.requiresAuth(path: path) {
                try Self.authorize(request, apiKey: apiKey)
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
            response = try apiError.response(from: request, context: context)
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

    /// 401 unless `Authorization: Bearer <key>` matches. The comparison takes the same time
    /// wherever the first difference is; the key itself never reaches a log or a response.
    static func authorize(_ request: Request, apiKey: [UInt8]) throws(APIError) {
        guard let header = request.headers[.authorization] else { throw APIError.unauthorized(missing: true) }
        let prefix = "bearer "
        guard header.count > prefix.count, header.prefix(prefix.count).lowercased() == prefix else {
            throw APIError.unauthorized(missing: true)
        }
        let token = Array(header.dropFirst(prefix.count).trimmingSpaces.utf8)
        guard constantTimeEquals(token, apiKey) else { throw APIError.unauthorized(missing: false) }
    }

    static func constantTimeEquals(_ given: [UInt8], _ expected: [UInt8]) -> Bool {
        var difference: UInt8 = given.count == expected.count ? 0 : 1
        for index in expected.indices {
            difference |= expected[index] ^ (index < given.count ? given[index] : 0)
        }
        return difference == 0
    }
}

extension Substring {
    fileprivate var trimmingSpaces: Substring {
        var result = self
        while result.first == " " { result.removeFirst() }
        while result.last == " " { result.removeLast() }
        return result
    }
}
