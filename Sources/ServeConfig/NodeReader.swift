import Yams

/// Walks the YAML tree against the known schema.
struct NodeReader {
    let file: String?

    func error(_ node: Node?, _ key: String, _ message: String) -> ConfigError {
        ConfigError(file: file, line: node?.mark?.line, key: key, message: message)
    }

    /// The entries of a mapping node, rejecting keys not in `known` with a did-you-mean.
    func entries(_ node: Node, _ path: String, known: [String]) throws -> [(String, Node)] {
        guard case let .mapping(m) = node else {
            throw error(node, path, "expected a mapping of keys (\(known.joined(separator: ", ")))")
        }
        var out: [(String, Node)] = []
        var seen = Set<String>()
        for (k, v) in m {
            guard let name = k.string else { throw error(k, path, "keys must be strings") }
            let full = path.isEmpty ? name : "\(path).\(name)"
            guard known.contains(name) else {
                let hint = closest(name, in: known).map { " (did you mean \(path.isEmpty ? $0 : "\(path).\($0)")?)" } ?? ""
                throw error(k, full, "unknown key\(hint)")
            }
            guard seen.insert(name).inserted else { throw error(k, full, "appears twice") }
            out.append((name, v))
        }
        return out
    }

    func isNull(_ n: Node) -> Bool { n.null != nil && n.scalar?.style == .plain }

    func string(_ n: Node, _ key: String) throws -> String {
        guard case let .scalar(s) = n, !isNull(n) else { throw error(n, key, "expected a string") }
        return s.string
    }

    func optionalString(_ n: Node, _ key: String) throws -> String? { isNull(n) ? nil : try string(n, key) }

    func int(_ n: Node, _ key: String, _ range: ClosedRange<Int>) throws -> Int {
        guard case .scalar = n, let v = n.int else { throw error(n, key, "expected an integer, got '\(n.string ?? "a \(kind(n))")'") }
        guard range.contains(v) else { throw error(n, key, "\(v) is out of range (\(range.lowerBound)…\(range.upperBound))") }
        return v
    }

    func bool(_ n: Node, _ key: String) throws -> Bool {
        guard case .scalar = n, let v = n.bool else { throw error(n, key, "expected true or false, got '\(n.string ?? "a \(kind(n))")'") }
        return v
    }

    func double(_ n: Node, _ key: String, _ range: ClosedRange<Double>) throws -> Double {
        guard case .scalar = n, let v = n.float ?? n.int.map(Double.init) else {
            throw error(n, key, "expected a number, got '\(n.string ?? "a \(kind(n))")'")
        }
        guard range.contains(v) else { throw error(n, key, "\(v) is out of range (\(range.lowerBound)…\(range.upperBound))") }
        return v
    }

    func intList(_ n: Node, _ key: String, _ range: ClosedRange<Int>) throws -> [Int] {
        guard case let .sequence(seq) = n else { throw error(n, key, "expected a list of integers like [0, 1]") }
        return try seq.map { try int($0, key, range) }
    }

    func kind(_ n: Node) -> String {
        switch n {
        case .scalar: return "scalar"
        case .mapping: return "mapping"
        case .sequence: return "list"
        case .alias: return "alias"
        }
    }

    func oneOf(_ n: Node, _ key: String, _ allowed: [String]) throws -> String {
        let v = try string(n, key)
        guard allowed.contains(v) else {
            throw error(n, key, "'\(v)' is not one of \(allowed.joined(separator: ", "))\(closest(v, in: allowed).map { " (did you mean \($0)?)" } ?? "")")
        }
        return v
    }

    mutating func read(_ root: Node, into c: inout ServeConfiguration) throws {
        let top = ["model", "served_model_name", "http", "pipeline", "scheduler", "limits", "recovery", "chat_template", "logging", "trace"]
        for (k, v) in try entries(root, "", known: top) {
            switch k {
            case "model": c.model = try string(v, k)
            case "served_model_name": c.servedModelName = try optionalString(v, k)
            case "chat_template": c.chatTemplate = try isNull(v) ? nil : oneOf(v, k, ["gemma", "llama3", "chatml", "llama2"])
            case "trace": c.trace = try optionalString(v, k)
            case "http":
                for (hk, hv) in try entries(v, "http", known: ["host", "port", "api_key_file", "max_body_bytes", "request_timeout"]) {
                    let key = "http.\(hk)"
                    switch hk {
                    case "host": c.http.host = try string(hv, key)
                    case "port": c.http.port = try int(hv, key, 0...65535)
                    case "api_key_file": c.http.apiKeyFile = try optionalString(hv, key)
                    case "max_body_bytes": c.http.maxBodyBytes = try int(hv, key, 1024...(1 << 30))
                    default: c.http.requestTimeout = try double(hv, key, 1...86400)
                    }
                }
            case "pipeline":
                let known = ["stages", "layers", "micro_batches", "threads_per_stage", "cpus", "numa", "socket_dir", "activation_dtype"]
                for (pk, pv) in try entries(v, "pipeline", known: known) {
                    let key = "pipeline.\(pk)"
                    switch pk {
                    case "stages": c.pipeline.stages = try int(pv, key, 1...64)
                    case "layers":
                        if case .scalar = pv, pv.string == "auto" { c.pipeline.layers = .auto } else {
                            c.pipeline.layers = .counts(try intList(pv, key, 1...4096))
                        }
                    case "micro_batches":
                        c.pipeline.microBatches = (pv.string == "auto") ? nil : try int(pv, key, 1...256)
                    case "threads_per_stage":
                        c.pipeline.threadsPerStage = (pv.string == "auto") ? nil : try int(pv, key, 1...1024)
                    case "cpus":
                        guard case let .sequence(seq) = pv else { throw error(pv, key, "expected a list of CPU lists, one per stage, like [[0], [1]]") }
                        c.pipeline.cpus = try seq.map { try intList($0, key, 0...65535) }
                    case "numa":
                        if case .sequence = pv { c.pipeline.numa = .nodes(try intList(pv, key, 0...1023)) } else {
                            c.pipeline.numa = try oneOf(pv, key, ["auto", "off"]) == "auto" ? .auto : .off
                        }
                    case "socket_dir": c.pipeline.socketDir = try optionalString(pv, key)
                    default: c.pipeline.activationDType = try oneOf(pv, key, ["f32", "f16", "bf16"])
                    }
                }
            case "scheduler":
                for (sk, sv) in try entries(v, "scheduler", known: ["max_running", "max_batch_tokens", "prefill_chunk_tokens", "kv_cache_tokens", "max_queue",
                                                                          "decode_stall_limit", "prefix_cache", "kv_block_tokens"]) {
                    let key = "scheduler.\(sk)"
                    switch sk {
                    case "max_running": c.scheduler.maxRunning = try int(sv, key, 1...65536)
                    case "max_batch_tokens": c.scheduler.maxBatchTokens = try int(sv, key, 1...65536)
                    case "prefill_chunk_tokens":
                        c.scheduler.prefillChunkTokens = (sv.string == "auto") ? nil : try int(sv, key, 1...65536)
                    case "kv_cache_tokens": c.scheduler.kvCacheTokens = try int(sv, key, 16...(1 << 26))
                    case "decode_stall_limit":
                        c.scheduler.decodeStallLimit = (sv.string == "off") ? nil : try double(sv, key, 1.05...1000)
                    case "prefix_cache": c.scheduler.prefixCache = try bool(sv, key)
                    case "kv_block_tokens": c.scheduler.kvBlockTokens = try int(sv, key, 1...4096)
                    default: c.scheduler.maxQueue = try int(sv, key, 1...1_000_000)
                    }
                }
            case "limits":
                for (lk, lv) in try entries(v, "limits", known: ["context_length", "max_tokens", "max_n"]) {
                    let key = "limits.\(lk)"
                    switch lk {
                    case "context_length": c.limits.contextLength = isNull(lv) ? nil : try int(lv, key, 16...(1 << 24))
                    case "max_tokens": c.limits.maxTokens = try int(lv, key, 1...(1 << 24))
                    default: c.limits.maxN = try int(lv, key, 1...128)
                    }
                }
            case "recovery":
                for (rk, rv) in try entries(v, "recovery", known: ["max_restarts", "restart_window", "heartbeat_timeout"]) {
                    let key = "recovery.\(rk)"
                    switch rk {
                    case "max_restarts": c.recovery.maxRestarts = try int(rv, key, 0...1000)
                    case "restart_window": c.recovery.restartWindow = try double(rv, key, 1...86400)
                    default: c.recovery.heartbeatTimeout = try double(rv, key, 0...86400)
                    }
                }
            default:  // logging
                for (lk, lv) in try entries(v, "logging", known: ["level", "format"]) {
                    if lk == "level" {
                        c.logging.level = try oneOf(lv, "logging.level", ["trace", "debug", "info", "notice", "warning", "error", "critical"])
                    } else {
                        c.logging.format = try oneOf(lv, "logging.format", ["text", "json"])
                    }
                }
            }
        }
    }
}

/// The known name closest to `s` (edit distance ≤ 3), for did-you-mean hints.
func closest(_ s: String, in names: [String]) -> String? {
    func distance(_ a: [Character], _ b: [Character]) -> Int {
        var prev = Array(0...b.count)
        for i in 1...max(1, a.count) where !a.isEmpty {
            var cur = [i] + Array(repeating: 0, count: b.count)
            for j in 1...max(1, b.count) where !b.isEmpty {
                cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            prev = cur
        }
        return a.isEmpty ? b.count : prev[b.count]
    }
    let a = Array(s)
    let best = names.map { ($0, distance(a, Array($0))) }.min { $0.1 < $1.1 }
    guard let best, best.1 <= 3, best.1 < s.count else { return nil }
    return best.0
}
