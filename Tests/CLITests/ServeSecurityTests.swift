import Foundation
import Testing

/// What the daemon exposes: loopback by default, the API key required and never logged, prompts
/// and bodies kept out of the info-level log.
@Suite(.serialized) struct ServeSecurityTests {
    @Test func keysAndPromptsStayOutOfTheLogAndLoopbackIsTheDefault() throws {
        let key = "sk-secret-\(UUID().uuidString)"
        let keyFile = CLI.scratch("key-\(UUID().uuidString)")
        try key.write(toFile: keyFile, atomically: true, encoding: .utf8)
        chmod(keyFile, 0o600)
        let config = CLI.scratch("secure-\(UUID().uuidString).yaml")
        try """
            model: \(try CLI.syntheticModel("tiny-llama"))
            http: {api_key_file: \(keyFile)}
            pipeline: {stages: 2, numa: off}
            logging: {level: info}
            """.write(toFile: config, atomically: true, encoding: .utf8)
        chmod(config, 0o600)
        let server = try LiveServer(arguments: ["--config", config])
        defer { server.stop() }
        #expect(server.log.contains("listening on http://127.0.0.1:"), "\(server.log)")
        let prompt = "confidential-prompt-\(UUID().uuidString)"
        let body = #"{"prompt":"\#(prompt)","max_tokens":4}"#
        #expect(try server.post("/v1/completions", body).0 == 401)
        #expect(try server.post("/v1/completions", body, headers: ["Authorization: Bearer wrong-\(key)"]).0 == 401)
        #expect(try server.post("/v1/completions", body, headers: ["Authorization: Bearer \(key)"]).0 == 200)
        // A failing request is logged, still without its body.
        #expect(try server.post("/v1/completions", #"{"prompt":"\#(prompt)","max_tokens":0}"#,
                                headers: ["Authorization: Bearer \(key)"]).0 == 400)
        #expect(server.stop() == 0)
        let log = server.log
        #expect(!log.contains(key) && !log.contains(prompt), "\(log)")
        #expect(!log.contains("readable by every user"), "\(log)")  // both files are 0600
    }
}
