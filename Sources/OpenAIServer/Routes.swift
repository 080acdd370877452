import Hummingbird

/// The server's route table as data: used to register handlers, to tell 405 from 404, and to
/// label HTTP metrics with a bounded set of route names (never a raw path).
enum Routes {
    static let completions = "/v1/completions"
    static let chatCompletions = "/v1/chat/completions"
    static let models = "/v1/models"
    static let modelPrefix = "/v1/models/"
    static let health = "/health"
    static let metrics = "/metrics"

    /// The route template for a concrete path, or nil when no route matches.
    static func template(path: String) -> String? {
        var path = path
        if path.count > 1, path.hasSuffix("/") { path.removeLast() }
        switch path {
        case completions, chatCompletions, models, health, metrics: return path
        default:
            if path.hasPrefix(modelPrefix), !path.dropFirst(modelPrefix.count).isEmpty {
                return "/v1/models/{id}"
            }
            return nil
        }
    }

    /// Methods a known path accepts, or nil for an unknown path.
    static func allowedMethods(path: String) -> [HTTPRequest.Method]? {
        switch template(path: path) {
        case completions, chatCompletions: [.post]
        case .some: [.get]
        case nil: nil
        }
    }

    /// The `route` label of `pipeserve:http_requests_total`.
    static func metricsLabel(path: String) -> String {
        template(path: path) ?? "unmatched"
    }

    /// Whether the API key (when configured) guards this path: everything but probes and scrapes.
    static func requiresAuth(path: String) -> Bool {
        let template = template(path: path)
        return template != health && template != metrics
    }
}
