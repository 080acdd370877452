import Hummingbird
import HummingbirdTesting
import Testing

@testable import OpenAIServer

@Suite struct InfoRoutesTests {
    @Test func modelsListsTheServedModel() async throws {
        try await withServer { client in
            let response = try await client.get("/v1/models")
            #expect(response.status == .ok)
            #expect(response.json["object"]?.string == "list")
            let model = try #require(response.json["data"]?[0])
            #expect(model["id"]?.string == "fake-model")
            #expect(model["object"]?.string == "model")
            #expect(model["owned_by"]?.string == "pipeserve")
            #expect(model["created"]?.int != nil)
            let one = try await client.get("/v1/models/fake-model")
            #expect(one.status == .ok)
            #expect(one.json["id"]?.string == "fake-model")
        }
    }

    @Test func unknownModelIdIs404() async throws {
        try await withServer { client in
            try await client.get("/v1/models/gpt-4").expectError(.notFound, code: "model_not_found", param: "model")
        }
    }

    @Test func healthIsOkWithStagesWhenReady() async throws {
        try await withServer { client in
            let response = try await client.get("/health")
            #expect(response.status == .ok)
            #expect(response.json["status"]?.string == "ok")
            let stages = response.json["stages"]?.array ?? []
            #expect(stages.count == 2)
            #expect(stages.first?["layers"]?.array?.map(\.int) == [0, 9])
        }
    }

    @Test(arguments: [
        (EngineHealth.loading("loading weights: stage 1"), "loading"),
        (EngineHealth.recovering("stage 0 restarted"), "recovering"),
        (EngineHealth.failed("too many crashes"), "failed"),
    ])
    func healthIs503WhenNotReady(health: EngineHealth, status: String) async throws {
        try await withServer(engine: FakeEngine(behaviour: .init(health: health))) { client in
            let response = try await client.get("/health")
            response.expectError(.serviceUnavailable, code: "not_ready")
            #expect(response.json["status"]?.string == status)
            #expect(response.headers[.retryAfter] == "5")
        }
    }

    @Test func requestsWaitWhileRecoveringInsteadOfFailing() async throws {
        try await withServer(engine: FakeEngine(behaviour: .init(health: .recovering("stage 0 restarted")))) { client in
            #expect(try await client.get("/health").status == .serviceUnavailable)
            let response = try await client.post("/v1/completions", #"{"prompt":"x","max_tokens":2}"#)
            #expect(response.status == .ok, "\(response.text)")
        }
    }

    @Test func metricsExposeHTTPAndEngineMetrics() async throws {
        let engine = FakeEngine()
        let metrics = OpenAIServerMetrics()
        // The integrator's engine gauges live in the same registry.
        metrics.registry.makeGauge(
            descriptor: .init(metricName: "pipeserve:num_requests_running", unitName: "", helpText: "running")
        ).set(to: 3.0)
        try await withServer(engine: engine, metrics: metrics) { client in
            _ = try await client.post("/v1/completions", #"{"prompt":"x","max_tokens":2,"temperature":0}"#)
            _ = try await client.get("/nope")
            let response = try await client.get("/metrics")
            #expect(response.status == .ok)
            #expect(response.headers[.contentType]?.hasPrefix("text/plain") == true)
            let text = response.text
            for name in [
                "pipeserve:request_success_total{finished_reason=\"length\"} 1",
                "pipeserve:http_requests_total{route=\"/v1/completions\",status=\"200\"} 1",
                "pipeserve:http_requests_total{route=\"unmatched\",status=\"404\"} 1",
                "pipeserve:time_to_first_token_seconds_count 1",
                "pipeserve:inter_token_latency_seconds_count 1",
                "pipeserve:e2e_request_latency_seconds_count 1",
                "pipeserve:prompt_tokens_total 2",
                "pipeserve:generation_tokens_total 2",
                "pipeserve:num_requests_running 3",
            ] {
                #expect(text.contains(name), "missing \(name) in\n\(text)")
            }
        }
        #expect(engine.counters.current.metricsRecorded == 1)
    }
}
