import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import Testing

@testable import OpenAIServer

/// What a hostile test of the daemon found at the HTTP layer (issue 16), one test per attack.
@Suite struct HardeningTests {
    let body = #"{"prompt":"x","max_tokens":2}"#

    /// A web page can POST `text/plain` (or a form, or no type) cross-site without a CORS
    /// preflight; JSON it cannot. Such bodies must not start generations.
    @Test func bodiesNotDeclaredAsJSONGet415() async throws {
        let engine = FakeEngine()
        try await withServer(engine: engine) { client in
            for type in ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/jsonp"] {
                let r = try await client.executeRequest(
                    uri: "/v1/completions", method: .post, headers: [.contentType: type], body: ByteBuffer(string: body))
                r.expectError(.unsupportedMediaType, code: "unsupported_media_type")
                #expect(r.headers[HeaderName("Access-Control-Allow-Origin")!] == nil)
            }
            let none = try await client.executeRequest(uri: "/v1/chat/completions", method: .post, headers: [:],
                                                       body: ByteBuffer(string: #"{"messages":[{"role":"user","content":"x"}]}"#))
            none.expectError(.unsupportedMediaType, code: "unsupported_media_type")
            #expect(engine.counters.current.started == 0)
            for type in ["application/json", "application/json; charset=utf-8", "Application/JSON"] {
                let r = try await client.executeRequest(
                    uri: "/v1/completions", method: .post, headers: [.contentType: type], body: ByteBuffer(string: body))
                #expect(r.status == .ok, "\(type): \(r.text)")
                #expect(r.headers[HeaderName("Access-Control-Allow-Origin")!] == nil)
            }
        }
    }

    /// `n` (× prompts) above what the queue can ever hold is a 400 naming the limit, not a 503
    /// `queue_full` that no retry can cure.
    @Test func moreSequencesThanTheQueueHoldsIs400() async throws {
        let configuration = OpenAIServerConfiguration(port: 0, maxN: 8, maxSequencesPerRequest: 4)
        let engine = FakeEngine()
        try await withServer(engine: engine, configuration: configuration) { client in
            let error = try await client.post("/v1/completions", #"{"prompt":"x","max_tokens":1,"n":5}"#)
                .expectError(.badRequest, code: "too_many_sequences", param: "n")
            #expect(error["message"]?.string?.contains("at most 4") == true)
            try await client.post("/v1/completions", #"{"prompt":["a","b","c"],"max_tokens":1,"n":2}"#)
                .expectError(.badRequest, code: "too_many_sequences")
            try await client.post("/v1/chat/completions", #"{"messages":[{"role":"user","content":"x"}],"max_tokens":1,"n":5}"#)
                .expectError(.badRequest, code: "too_many_sequences")
            #expect(engine.counters.current.started == 0)
            #expect(try await client.post("/v1/completions", #"{"prompt":"x","max_tokens":1,"n":4}"#).status == .ok)
        }
    }

    /// Several keys (one per line of the key file) each authorize; others do not.
    @Test func everyConfiguredKeyAuthorizes() async throws {
        let configuration = OpenAIServerConfiguration(port: 0, apiKeys: ["sk-new-key", "sk-old-key"])
        try await withServer(configuration: configuration) { client in
            for key in ["sk-new-key", "sk-old-key"] {
                #expect(try await client.post("/v1/completions", body, headers: [.authorization: "Bearer \(key)"]).status == .ok)
            }
            for key in ["sk-new-key sk-old-key", "sk-new-keysk-old-key", "sk-old", ""] {
                let r = try await client.post("/v1/completions", body, headers: [.authorization: "Bearer \(key)"])
                #expect(r.status == .unauthorized, "\(key.debugDescription)")
            }
        }
    }
}
