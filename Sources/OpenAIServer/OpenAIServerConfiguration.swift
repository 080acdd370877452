/// Settings of the HTTP front end. The integrator fills it from the YAML config and flags.
public struct OpenAIServerConfiguration: Sendable {
    /// Address to bind; loopback by default so nothing is exposed by accident.
    public var host: String
    /// Port to bind; 0 picks a free port, reported through `onServerRunning`.
    public var port: Int
    /// Largest accepted request body; larger bodies get 413 while being read.
    public var maxBodyBytes: Int
    /// When not empty, every `/v1/*` route requires `Authorization: Bearer <key>` with one of
    /// these keys (several allow a rotation without downtime). `/health` and `/metrics` stay open
    /// (probes and scrapers).
    public var apiKeys: [String]
    /// Longest a request may generate for; the sequences are then cancelled (504 before any
    /// output, an error event inside a stream). nil: no limit.
    public var requestTimeoutSeconds: Double?
    /// Largest accepted `n` (choices per prompt).
    public var maxN: Int
    /// Most sequences (prompts × `n`) one request may start: the engine's queue bound. A request
    /// above it could never be admitted, so it is a 400 naming the limit, not a 503. nil: no bound.
    public var maxSequencesPerRequest: Int?
    /// Largest accepted `max_tokens`; also caps the chat default (context left after the prompt).
    public var maxTokensLimit: Int
    /// `Retry-After` sent with 503 while the engine is loading or recovering.
    public var notReadyRetryAfterSeconds: Int
    /// Every this many seconds a stream also gets an SSE comment line (`: keep-alive`), which
    /// keeps proxies from timing out and lets the server notice a client that left while no
    /// token was coming (the write fails, the sequences are cancelled). nil: never.
    public var streamKeepAliveSeconds: Double?

    /// How long a connection may stay silent while no response is being produced (unfinished
    /// headers, a stalled body, an idle keep-alive) before it is closed: min(request timeout, 60 s).
    var connectionIdleTimeoutSeconds: Double { min(requestTimeoutSeconds ?? 60, 60) }

    /// How long a drain (SIGTERM) waits for running requests before the listener closes anyway:
    /// the request timeout (every request ends by then), 600 s without one.
    public var drainTimeoutSeconds: Double { requestTimeoutSeconds ?? 600 }

    public init(
        host: String = "127.0.0.1",
        port: Int = 8080,
        maxBodyBytes: Int = 1 << 20,
        apiKeys: [String] = [],
        requestTimeoutSeconds: Double? = 600,
        maxN: Int = 8,
        maxSequencesPerRequest: Int? = nil,
        maxTokensLimit: Int = 4096,
        notReadyRetryAfterSeconds: Int = 5,
        streamKeepAliveSeconds: Double? = 5
    ) {
        self.host = host
        self.port = port
        self.maxBodyBytes = maxBodyBytes
        self.apiKeys = apiKeys
        self.requestTimeoutSeconds = requestTimeoutSeconds
        self.maxN = maxN
        self.maxSequencesPerRequest = maxSequencesPerRequest
        self.maxTokensLimit = maxTokensLimit
        self.notReadyRetryAfterSeconds = notReadyRetryAfterSeconds
        self.streamKeepAliveSeconds = streamKeepAliveSeconds
    }
}
