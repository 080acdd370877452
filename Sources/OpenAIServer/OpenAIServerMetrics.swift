import Prometheus
import ServingTypes

/// The Prometheus registry `/metrics` renders, and the HTTP-side metrics written into it.
///
/// One registry holds everything: this type registers the request/latency/token metrics below;
/// the integrator registers the engine's gauges (running/waiting requests, KV usage, per-stage
/// busy ratio, bubble ratio, stage restarts) in the same `registry`, either directly
/// (`registry.makeGauge(descriptor:)`) or through swift-metrics after
/// `MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: metrics.registry))`.
/// `InferenceEngine.recordMetrics()` runs just before each render so gauges are fresh.
public final class OpenAIServerMetrics: Sendable {
    /// The registry `/metrics` emits.
    public let registry: PrometheusCollectorRegistry

    let timeToFirstToken: ValueHistogram
    let interTokenLatency: ValueHistogram
    let endToEndLatency: ValueHistogram
    let promptTokens: Counter
    let generationTokens: Counter

    /// Registers the HTTP-side metrics in `registry` (a fresh one by default).
    public init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) {
        self.registry = registry
        timeToFirstToken = registry.makeValueHistogram(
            descriptor: Self.name("time_to_first_token", "seconds", "Time from request arrival to a sequence's first token."),
            buckets: [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 20, 40, 80])
        interTokenLatency = registry.makeValueHistogram(
            descriptor: Self.name("inter_token_latency", "seconds", "Time between consecutive tokens of a sequence."),
            buckets: [0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1, 2.5, 5, 10])
        endToEndLatency = registry.makeValueHistogram(
            descriptor: Self.name("e2e_request_latency", "seconds", "Time from request arrival to a sequence's end."),
            buckets: [0.3, 0.5, 0.8, 1, 1.5, 2, 2.5, 5, 10, 15, 20, 30, 40, 50, 60, 120, 240, 480, 960])
        promptTokens = registry.makeCounter(
            descriptor: Self.name("prompt_tokens", "total", "Prompt tokens processed (per sequence)."))
        generationTokens = registry.makeCounter(
            descriptor: Self.name("generation_tokens", "total", "Tokens generated."))
    }

    /// One HTTP response, by route template and status code.
    func recordResponse(route: String, status: Int) {
        registry.makeCounter(
            descriptor: Self.name("http_requests", "total", "HTTP responses by route and status."),
            labels: [("route", route), ("status", String(status))]
        ).increment()
    }

    /// One sequence finished normally.
    func recordFinished(reason: FinishReason, promptTokens: Int, completionTokens: Int, seconds: Double) {
        registry.makeCounter(
            descriptor: Self.name("request_success", "total", "Sequences finished, by finish reason."),
            labels: [("finished_reason", reason.rawValue)]
        ).increment()
        self.promptTokens.increment(by: Int64(promptTokens))
        generationTokens.increment(by: Int64(completionTokens))
        endToEndLatency.record(seconds)
    }

    /// Prometheus text exposition of everything in the registry.
    func render() -> String {
        registry.emitToString()
    }

    private static func name(_ metric: String, _ unit: String, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(namespace: nil, subsystem: nil, metricName: "pipeserve:" + metric, unitName: unit, helpText: help)
    }
}
