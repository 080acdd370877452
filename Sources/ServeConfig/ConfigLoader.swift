import Foundation
import Yams

/// Reads `pipeserve.yaml` into a `ServeConfiguration`: every key is known, typed and range-checked;
/// an unknown key is an error with a did-you-mean; every error names the key and its line.
public enum ConfigLoader {
    /// Loads and validates a file.
    public static func load(path: String) throws -> ServeConfiguration {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigError(file: path, key: "", message: "cannot read the configuration file")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw ConfigError(file: path, key: "", message: "the configuration file is not valid UTF-8")
        }
        return try parse(text, file: path)
    }

    /// Files that others can read though they may hold secrets (the configuration names the API
    /// key file; the key file is the secret). Returns one warning per such file; never fails.
    public static func permissionWarnings(configPath: String?, configuration c: ServeConfiguration) -> [String] {
        var out: [String] = []
        for (path, what) in [(configPath, "configuration file"), (c.http.apiKeyFile, "API key file")] {
            guard let path, let attrs = try? FileManager.default.attributesOfItem(atPath: path),
                  let mode = (attrs[.posixPermissions] as? NSNumber)?.intValue else { continue }
            if mode & 0o004 != 0 {
                out.append("\(what) \(path) is readable by every user (mode \(String(mode & 0o777, radix: 8))); chmod o-r it")
            }
        }
        return out
    }

    /// Parses YAML text (`file` only labels errors).
    public static func parse(_ text: String, file: String? = nil) throws -> ServeConfiguration {
        let root: Node?
        do { root = try Yams.compose(yaml: text) } catch let e as YamlError {
            throw ConfigError(file: file, line: yamlLine(e), key: "", message: "invalid YAML: \(e)")
        }
        var c = ServeConfiguration()
        guard let root else { return c }  // empty file = all defaults
        var reader = NodeReader(file: file)
        try reader.read(root, into: &c)
        try validate(c, file: file)
        return c
    }

    static func yamlLine(_ e: YamlError) -> Int? {
        switch e {
        case let .scanner(_, _, mark, _), let .parser(_, _, mark, _), let .composer(_, _, mark, _): return mark.line
        default: return nil
        }
    }

    /// Checks that depend on the machine: the compute threads of all stages against the CPUs the
    /// daemon may use (`usableCPUs`, its affinity mask). More threads than CPUs is a warning
    /// (they time-share; a stage's threads wait on each other at every matrix product); more
    /// than `oversubscriptionLimit` threads per CPU is refused, since it can only be a mistake.
    public static func cpuCheck(_ c: ServeConfiguration, usableCPUs: Int, file: String? = nil) throws -> [String] {
        // auto chooses the threads within the limit and time-shares on purpose: nothing to say.
        guard let perStage = c.pipeline.threadsPerStage else { return [] }
        let threads = c.pipeline.stages * perStage
        let cpus = max(1, usableCPUs)
        if threads > cpus * oversubscriptionLimit {
            throw ConfigError(file: file, key: "pipeline.threads_per_stage",
                              message: "\(c.pipeline.stages) stages × \(perStage) threads = \(threads) compute threads on \(cpus) usable CPUs (at most \(oversubscriptionLimit) per CPU); use at most \(max(1, cpus * oversubscriptionLimit / c.pipeline.stages)), or auto")
        }
        if threads > cpus {
            return ["pipeline: \(c.pipeline.stages) stages × \(perStage) threads = \(threads) compute threads on \(cpus) usable CPUs: stages will time-share cores"]
        }
        return []
    }

    /// Settings that work but cost speed, as warnings: fewer micro-batches than stages leave
    /// stages idle (each waits for the one micro-batch to come round).
    public static func pipelineAdvice(_ c: ServeConfiguration) -> [String] {
        let m = c.pipeline.effectiveMicroBatches, p = c.pipeline.stages
        guard m < p else { return [] }
        return ["pipeline: \(m) micro-batch\(m == 1 ? "" : "es") for \(p) stages: at most \(m) of the stages compute at a time; micro_batches: auto gives one per stage"]
    }

    /// Compute threads per usable CPU beyond which `cpuCheck` refuses a configuration.
    public static let oversubscriptionLimit = 4

    /// Cross-field checks (types and ranges of single keys are checked while reading).
    public static func validate(_ c: ServeConfiguration, file: String? = nil) throws {
        if case let .counts(counts) = c.pipeline.layers, counts.count != c.pipeline.stages {
            throw ConfigError(file: file, key: "pipeline.layers",
                              message: "lists \(counts.count) stages but pipeline.stages is \(c.pipeline.stages)")
        }
        if !c.pipeline.cpus.isEmpty, c.pipeline.cpus.count != c.pipeline.stages {
            throw ConfigError(file: file, key: "pipeline.cpus",
                              message: "lists CPUs for \(c.pipeline.cpus.count) stages but pipeline.stages is \(c.pipeline.stages)")
        }
        if c.limits.maxN > c.scheduler.maxQueue {
            throw ConfigError(file: file, key: "limits.max_n",
                              message: "\(c.limits.maxN) is above scheduler.max_queue \(c.scheduler.maxQueue): a request with that many choices could never be queued")
        }
        if let ctx = c.limits.contextLength, c.scheduler.kvCacheTokens < ctx {
            throw ConfigError(file: file, key: "scheduler.kv_cache_tokens",
                              message: "\(c.scheduler.kvCacheTokens) is smaller than limits.context_length \(ctx): a full-length request could never run")
        }
    }
}
