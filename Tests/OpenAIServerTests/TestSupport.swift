import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import Testing

@testable import OpenAIServer

/// Runs `test` against the application built for `engine` (in-process router by default).
func withServer(
    engine: FakeEngine = FakeEngine(),
    configuration: OpenAIServerConfiguration = OpenAIServerConfiguration(port: 0),
    metrics: OpenAIServerMetrics = OpenAIServerMetrics(),
    setup: TestingSetup = .router,
    _ test: @Sendable (any TestClientProtocol) async throws -> Void
) async throws {
    var logger = Logger(label: "OpenAIServerTests")
    logger.logLevel = .warning
    let app = makeApplication(engine: engine, configuration: configuration, metrics: metrics, logger: logger)
    try await app.test(setup, test)
}

extension TestClientProtocol {
    func post(_ uri: String, _ body: String, headers: HTTPFields = [:]) async throws -> TestResponse {
        var headers = headers
        headers[.contentType] = "application/json"
        return try await executeRequest(uri: uri, method: .post, headers: headers, body: ByteBuffer(string: body))
    }

    func get(_ uri: String, headers: HTTPFields = [:]) async throws -> TestResponse {
        try await executeRequest(uri: uri, method: .get, headers: headers, body: nil)
    }
}

extension TestResponse {
    var text: String { String(buffer: body) }

    var json: JSONValue {
        (try? JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))) ?? .string("<not JSON: \(text)>")
    }

    /// The `data:` payloads of an SSE body, in order ("[DONE]" kept as a string; comments dropped).
    var events: [String] {
        text.components(separatedBy: "\n\n").filter { !$0.isEmpty && !$0.hasPrefix(":") }.map {
            $0.hasPrefix("data: ") ? String($0.dropFirst(6)) : "<malformed: \($0)>"
        }
    }

    var eventJSON: [JSONValue] {
        events.filter { $0 != "[DONE]" }.map {
            (try? JSONDecoder().decode(JSONValue.self, from: Data($0.utf8))) ?? .string("<not JSON: \($0)>")
        }
    }

    /// Checks the OpenAI error object and returns it for further checks.
    @discardableResult
    func expectError(
        _ status: HTTPResponse.Status, code: String? = nil, param: String? = nil,
        sourceLocation: SourceLocation = #_sourceLocation
    ) -> JSONValue {
        #expect(self.status == status, "body: \(text)", sourceLocation: sourceLocation)
        #expect(headers[.contentType] == "application/json", sourceLocation: sourceLocation)
        let error = json["error"] ?? .null
        #expect(error["message"]?.string?.isEmpty == false, "body: \(text)", sourceLocation: sourceLocation)
        #expect(error["type"]?.string != nil, sourceLocation: sourceLocation)
        if let code { #expect(error["code"]?.string == code, "body: \(text)", sourceLocation: sourceLocation) }
        if let param { #expect(error["param"]?.string == param, "body: \(text)", sourceLocation: sourceLocation) }
        return error
    }
}

extension JSONValue {
    subscript(index: Int) -> JSONValue? {
        guard case .array(let items) = self, items.indices.contains(index) else { return nil }
        return items[index]
    }

    var string: String? { if case .string(let value) = self { value } else { nil } }
    var int: Int? { if case .int(let value) = self { Int(value) } else { nil } }
    var double: Double? {
        switch self {
        case .int(let value): Double(value)
        case .double(let value): value
        default: nil
        }
    }
    var array: [JSONValue]? { if case .array(let value) = self { value } else { nil } }
    var keys: [String]? { if case .object(let pairs) = self { pairs.map(\.0) } else { nil } }
}
