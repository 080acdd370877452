import Foundation
import Hummingbird

/// GET /v1/models, /v1/models/{id}, /health and /metrics.
extension Handlers {
    private var modelObject: JSONValue {
        .object([
            ("id", .string(engine.modelName)), ("object", .string("model")), ("created", .number(created)),
            ("owned_by", .string("pipeserve")), ("max_model_len", .number(engine.contextLength)),
        ])
    }

    func models(_ request: Request, context: OpenAIRequestContext) throws -> Response {
        jsonResponse(.object([("object", .string("list")), ("data", .array([modelObject]))]))
    }

    func model(_ request: Request, context: OpenAIRequestContext) throws -> Response {
        // The raw segment, percent-decoded, so ids containing "/" (URL-encoded) still match.
        let id = context.parameters.get("id").map { $0.removingPercentEncoding ?? $0 } ?? ""
        guard id == engine.modelName else { throw APIError.modelNotFound(id) }
        return jsonResponse(modelObject)
    }

    /// 200 with the stages when ready; 503 with an OpenAI error object (and the state) otherwise.
    func health(_ request: Request, context: OpenAIRequestContext) throws -> Response {
        let status: String
        let reason: String
        switch engine.health {
        case .ready(let stages):
            return jsonResponse(.object([
                ("status", .string("ok")), ("model", .string(engine.modelName)),
                ("stages", .array(stages.map(Self.stageJSON))),
            ]))
        case .loading(let why): (status, reason) = ("loading", why)
        case .recovering(let why): (status, reason) = ("recovering", why)
        case .failed(let why): (status, reason) = ("failed", why)
        }
        let error = APIError.notReady(reason, retryAfterSeconds: configuration.notReadyRetryAfterSeconds)
        guard case .object(let pairs) = error.json else { return jsonResponse(error.json, status: .serviceUnavailable) }
        var response = jsonResponse(.object([("status", .string(status))] + pairs), status: .serviceUnavailable)
        response.headers[.retryAfter] = String(configuration.notReadyRetryAfterSeconds)
        return response
    }

    private static func stageJSON(_ stage: StageHealth) -> JSONValue {
        .object([
            ("index", .number(stage.index)), ("status", .string(stage.status)),
            ("layers", stage.layers.map { .array([.number($0.lowerBound), .number($0.upperBound)]) } ?? .null),
            ("restarts", .number(stage.restarts)),
        ])
    }

    func metrics(_ request: Request, context: OpenAIRequestContext) throws -> Response {
        engine.recordMetrics()
        return Response(
            status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
            body: ResponseBody(byteBuffer: ByteBuffer(string: metrics.render())))
    }
}
