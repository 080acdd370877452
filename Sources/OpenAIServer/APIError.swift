import Constraints
import Hummingbird

/// An OpenAI-shaped error: `{"error": {"message", "type", "param", "code"}}` with its HTTP status.
///
/// This file is the one place where failures become HTTP: `APIError.map(_:)` turns every other
/// error (engine, Hummingbird, body collection) into an `APIError`, and `response(from:context:)`
/// renders it. Handlers throw; `APIMiddleware` calls the mapping.
struct APIError: Error, HTTPResponseError, Sendable {
    var status: HTTPResponse.Status
    var message: String
    var type: String
    var param: String?
    var code: String?
    /// Extra headers, e.g. `Retry-After`, `Allow`, `WWW-Authenticate`.
    var headers: HTTPFields = [:]

    /// The error object as it appears in a body or in an SSE `data:` line.
    var json: JSONValue {
        .object([
            ("error", .object([
                ("message", .string(message)),
                ("type", .string(type)),
                ("param", .optional(param)),
                ("code", .optional(code)),
            ])),
        ])
    }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        var headers = self.headers
        headers[.contentType] = "application/json"
        return Response(
            status: status, headers: headers,
            body: ResponseBody(byteBuffer: ByteBuffer(string: json.serialized))
        )
    }
}

// MARK: - The cases the server produces

extension APIError {
    /// 400: the body is not JSON.
    static var invalidJSON: APIError {
        APIError(
            status: .badRequest,
            message: "We could not parse the JSON body of your request. Expected a JSON object.",
            type: "invalid_request_error", param: nil, code: "invalid_json")
    }

    /// 400: a field has the wrong type, is out of range, or the request cannot be served.
    static func invalidRequest(_ message: String, param: String? = nil, code: String? = nil) -> APIError {
        APIError(status: .badRequest, message: message, type: "invalid_request_error", param: param, code: code)
    }

    /// 400: a key OpenAI does not define (OpenAI answers the same way).
    static func unrecognizedArgument(_ param: String) -> APIError {
        .invalidRequest("Unrecognized request argument supplied: \(param)", param: param, code: "unrecognized_argument")
    }

    /// 400: an OpenAI field this server does not implement, set to something other than its default.
    static func unsupported(_ param: String, _ detail: String = "") -> APIError {
        .invalidRequest(
            "`\(param)` is not supported by this server\(detail.isEmpty ? "" : ": " + detail).",
            param: param, code: "unsupported_parameter")
    }

    /// 400: a JSON schema or grammar that cannot be compiled. `param` is where it sits in the
    /// request; a schema error's path is appended (`response_format.json_schema.schema.properties.age.minimum`).
    static func invalidConstraint(_ error: ConstraintError, param: String) -> APIError {
        let code: String
        switch error {
        case .unsupportedKeyword: code = "unsupported_schema_keyword"
        case .tooLarge: code = "constraint_too_large"
        case .grammarSyntax, .undefinedRule, .leftRecursion: code = "invalid_grammar"
        case .acceptsNothing: code = param == "grammar" ? "invalid_grammar" : "invalid_schema"
        case .invalidJSON, .invalidSchema: code = "invalid_schema"
        }
        let path = error.path.map { $0.isEmpty ? param : param + "." + $0 } ?? param
        return .invalidRequest(error.description, param: path, code: code)
    }

    /// 400: prompt plus completion do not fit the context window.
    static func contextLengthExceeded(prompt: Int, completion: Int, limit: Int, param: String) -> APIError {
        .invalidRequest(
            "This model's maximum context length is \(limit) tokens. However, you requested "
                + "\(prompt + completion) tokens (\(prompt) in the prompt, \(completion) for the completion). "
                + "Please reduce the length of the prompt or the completion.",
            param: param, code: "context_length_exceeded")
    }

    /// 401: API key configured and the bearer token is missing or wrong. Never echoes the key.
    static func unauthorized(missing: Bool) -> APIError {
        APIError(
            status: .unauthorized,
            message: missing
                ? "You didn't provide an API key. Provide it in the Authorization header (Authorization: Bearer YOUR_KEY)."
                : "Incorrect API key provided.",
            type: "invalid_request_error", param: nil, code: "invalid_api_key",
            headers: [.wwwAuthenticate: "Bearer"])
    }

    /// 404: no route for this path.
    static func unknownURL(method: HTTPRequest.Method, path: String) -> APIError {
        APIError(
            status: .notFound, message: "Unknown request URL: \(method) \(path).",
            type: "invalid_request_error", param: nil, code: "unknown_url")
    }

    /// 404: `model` names a model this server does not serve.
    static func modelNotFound(_ model: String) -> APIError {
        APIError(
            status: .notFound, message: "The model `\(model)` does not exist.",
            type: "invalid_request_error", param: "model", code: "model_not_found")
    }

    /// 405: known path, wrong method.
    static func methodNotAllowed(method: HTTPRequest.Method, path: String, allowed: [HTTPRequest.Method]) -> APIError {
        APIError(
            status: .methodNotAllowed,
            message: "Method \(method) is not allowed for \(path); use \(allowed.map(\.rawValue).joined(separator: ", ")).",
            type: "invalid_request_error", param: nil, code: "method_not_allowed",
            headers: [.allow: allowed.map(\.rawValue).joined(separator: ", ")])
    }

    /// 413: body larger than the configured limit (detected while reading it).
    static func payloadTooLarge(limit: Int) -> APIError {
        APIError(
            status: .contentTooLarge, message: "The request body exceeds the limit of \(limit) bytes.",
            type: "invalid_request_error", param: nil, code: "request_too_large")
    }

    /// 415: a POST body not declared as JSON.
    static func unsupportedMediaType(_ declared: String) -> APIError {
        let what = declared.isEmpty ? "no Content-Type" : "Content-Type '\(declared.prefix(100))'"
        return APIError(
            status: .unsupportedMediaType, message: "The request body must be JSON sent as Content-Type: application/json (got \(what)).",
            type: "invalid_request_error", param: nil, code: "unsupported_media_type")
    }

    /// 503: the server is draining (SIGTERM); the connection is closed after this answer.
    static func shuttingDown(retryAfterSeconds: Int) -> APIError {
        APIError(
            status: .serviceUnavailable, message: "The server is shutting down; retry after \(retryAfterSeconds) s (another replica, or this one once restarted).",
            type: "server_error", param: nil, code: "shutting_down",
            headers: [.retryAfter: String(max(1, retryAfterSeconds)), .connection: "close"])
    }

    /// 503: the engine's queue is full.
    static func queueFull(retryAfterSeconds: Int) -> APIError {
        APIError(
            status: .serviceUnavailable, message: "The server is overloaded; retry after \(retryAfterSeconds) s.",
            type: "server_error", param: nil, code: "queue_full",
            headers: [.retryAfter: String(max(1, retryAfterSeconds))])
    }

    /// 503: loading, recovering or failed.
    static func notReady(_ reason: String, retryAfterSeconds: Int) -> APIError {
        APIError(
            status: .serviceUnavailable, message: "The model is not ready: \(reason)",
            type: "server_error", param: nil, code: "not_ready",
            headers: [.retryAfter: String(max(1, retryAfterSeconds))])
    }

    /// 408: `requestTimeoutSeconds` elapsed before the request body had arrived.
    static func bodyTimeout(seconds: Double) -> APIError {
        APIError(
            status: .requestTimeout, message: "The request body did not arrive within \(seconds) seconds.",
            type: "invalid_request_error", param: nil, code: "request_timeout", headers: [.connection: "close"])
    }

    /// 504: `requestTimeoutSeconds` elapsed before the completion finished.
    static func timeout(seconds: Double) -> APIError {
        APIError(
            status: .gatewayTimeout, message: "The request did not complete within \(seconds) seconds.",
            type: "server_error", param: nil, code: "timeout")
    }

    /// 500: the engine failed or something unexpected happened (details go to the log, not here).
    static func internalError(_ message: String) -> APIError {
        APIError(status: .internalServerError, message: message, type: "server_error", param: nil, code: "internal_error")
    }
}

// MARK: - Mapping every other error

extension APIError {
    /// Maps any error thrown while handling a request to the error the client sees. `request` is
    /// nil inside a stream (the route is known then).
    static func map(
        _ error: any Error, request: Request?, notReadyRetryAfterSeconds: Int, maxBodyBytes: Int
    ) -> APIError {
        switch error {
        case let error as APIError:
            return error
        case let error as EngineError:
            switch error {
            case .queueFull(let seconds): return .queueFull(retryAfterSeconds: seconds)
            case .notReady(let reason): return .notReady(reason, retryAfterSeconds: notReadyRetryAfterSeconds)
            case .invalidRequest(let message, let param): return .invalidRequest(message, param: param)
            case .failed(let message): return .internalError("The inference engine failed: \(message)")
            }
        case let error as any HTTPResponseError:
            // Hummingbird's own errors (router not-found, body too large, ...).
            switch error.status {
            case .notFound:
                guard let request else { return .internalError("Not found.") }
                let path = request.uri.path
                if let allowed = Routes.allowedMethods(path: path), !allowed.contains(request.method) {
                    return .methodNotAllowed(method: request.method, path: path, allowed: allowed)
                }
                return .unknownURL(method: request.method, path: path)
            case .contentTooLarge:
                return .payloadTooLarge(limit: maxBodyBytes)
            default:
                return APIError(
                    status: error.status, message: error.status.reasonPhrase,
                    type: error.status.code >= 500 ? "server_error" : "invalid_request_error",
                    param: nil, code: nil)
            }
        case is UnreadableBody:
            // Broken framing (a bad chunk size, a body shorter than its Content-Length): the
            // client's fault, and the connection cannot be reused.
            return APIError(
                status: .badRequest, message: "The request body could not be read (malformed or truncated HTTP framing).",
                type: "invalid_request_error", param: nil, code: "invalid_body", headers: [.connection: "close"])
        case is ClientDisconnected:
            // Nobody reads this; the status keeps the metrics honest (nginx's convention).
            return APIError(
                status: HTTPResponse.Status(code: 499, reasonPhrase: "Client Closed Request"),
                message: "The client closed the connection.", type: "invalid_request_error", param: nil, code: "client_closed")
        case is CancellationError:
            return .internalError("The request was cancelled.")
        default:
            return .internalError("Internal server error.")
        }
    }
}
