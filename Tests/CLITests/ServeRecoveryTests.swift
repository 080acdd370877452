import Foundation
import Testing

/// The daemon under disruption, as an operator would cause it: a stage killed under load, a
/// SIGHUP with a new stage count, a SIGKILLed coordinator.
@Suite(.serialized) struct ServeRecoveryTests {
    func config(_ path: String, stages: Int, threads: Int = 1, prefillChunk: Int? = nil, extra: String = "") throws {
        try """
            model: \(try CLI.syntheticModel("tiny-llama"))
            chat_template: chatml
            pipeline: {stages: \(stages), threads_per_stage: \(threads), numa: off}
            scheduler: {max_queue: 64, kv_cache_tokens: 16384\(prefillChunk.map { ", prefill_chunk_tokens: \($0)" } ?? "")}
            logging: {level: notice}
            \(extra)
            """.write(toFile: path, atomically: true, encoding: .utf8)
    }

    /// 32 requests, half streaming, half not; greedy and seeded sampling alternate.
    static func body(_ i: Int) -> String {
        let sampling = i % 2 == 0 ? #""temperature":0"# : #""temperature":0.9,"seed":\#(i)"#
        return #"{"prompt":"request number \#(i) says","max_tokens":120,"ignore_eos":true,\#(sampling),"stream":\#(i % 4 < 2)}"#
    }

    /// The completion text of a JSON or SSE answer.
    static func text(_ body: String) -> String? {
        if body.hasPrefix("data: ") {
            var out = ""
            for event in body.components(separatedBy: "\n\n") where event.hasPrefix("data: {") {
                guard let j = json(String(event.dropFirst(6))), let c = (j["choices"] as? [[String: Any]])?.first else { return nil }
                out += c["text"] as? String ?? ""
            }
            return body.contains("data: [DONE]") ? out : nil
        }
        return ((json(body)?["choices"] as? [[String: Any]])?.first?["text"] as? String)
    }

    func runAll(_ server: LiveServer, during: (() -> Void)? = nil) -> [Int: (Int, String)] {
        let results = Collected()
        let group = DispatchGroup()
        for i in 0..<32 {
            DispatchQueue.global().async(group: group) {
                let r = try? server.curl(["-sN", "-w", "\n%{http_code}", "-H", "Content-Type: application/json", "--data-binary", Self.body(i),
                                          server.url("/v1/completions")])
                let s = r?.stdout ?? ""
                let nl = s.lastIndex(of: "\n") ?? s.endIndex
                results.set(i, (Int(s[s.index(nl, offsetBy: nl == s.endIndex ? 0 : 1)...]) ?? 0, String(s[..<nl])))
            }
        }
        during?()
        group.wait()
        return results.all
    }

    /// One and two compute threads per stage: the recomputed text must be the same bits either
    /// way (with two, a race in the thread pool's hand-over between runs once changed a request's
    /// text here).
    @Test(arguments: [1, 2])
    func aStageKilledUnderLoadLosesNoRequestAndChangesNoText(threadsPerStage: Int) throws {
        let path = CLI.scratch("recover-\(UUID().uuidString).yaml")
        try config(path, stages: 2, threads: threadsPerStage)
        let server = try LiveServer(arguments: ["--config", path])
        defer { server.stop() }
        let baseline = runAll(server)
        #expect(baseline.count == 32 && baseline.values.allSatisfy { $0.0 == 200 && Self.text($0.1) != nil })
        let stages = childPIDs(of: server.process.processIdentifier)
        try #require(stages.count == 2)
        let sawRecovering = Collected()
        var runningAtKill = 0.0
        let crashed = runAll(server) {
            // Kill only once requests are running, so that the crash has work to recompute.
            let deadline = Date().addingTimeInterval(20)
            while Date() < deadline {
                runningAtKill = Self.metric((try? server.get("/metrics").1) ?? "", "pipeserve:num_requests_running") ?? 0
                if runningAtKill > 0 { break }
                usleep(5_000)
            }
            kill(stages[1], SIGKILL)
            for _ in 0..<60 {
                if let h = try? server.get("/health"), h.0 == 503, h.1.contains("recovering") { sawRecovering.set(0, (503, h.1)); break }
                usleep(20_000)
            }
        }
        for i in 0..<32 {
            #expect(crashed[i]?.0 == 200, "request \(i): \(crashed[i].map { "\($0.0) \($0.1.prefix(300))" } ?? "none")")
            #expect(Self.text(crashed[i]?.1 ?? "") == Self.text(baseline[i]?.1 ?? "-"), "request \(i) changed")
        }
        #expect(runningAtKill > 0, "no request was running when the stage was killed")
        let metrics = try server.get("/metrics").1
        // Totals that only grow are counters.
        #expect(metrics.contains("# TYPE pipeserve:stage_restarts_total counter"), "\(metrics)")
        #expect(metrics.contains("pipeserve:stage_restarts_total 1"), "\(metrics)")
        #expect(metrics.contains("# TYPE pipeserve:recomputed_sequences_total counter"), "\(metrics)")
        // The requests running at the kill were recomputed on the new ring (and gave the same text above).
        let recomputed = Self.metric(metrics, "pipeserve:recomputed_sequences_total") ?? -1
        #expect(recomputed > 0, "recomputed_sequences_total \(recomputed) (-1: absent), \(runningAtKill) running at the kill")
        #expect(!metrics.contains("pipeserve:stage_restarts "), "\(metrics)")
        #expect(server.log.contains("stage 1 exited"), "\(server.log)")
        let (hs, health) = try server.get("/health")
        #expect(hs == 200 && health.contains("\"restarts\":1"), "\(health)")
        let newStages = childPIDs(of: server.process.processIdentifier)
        #expect(newStages.count == 2 && !newStages.contains(stages[1]))
        #expect(!processExists(stages[1]))
        print("recovery: /health answered 503 recovering during the restart: \(!sawRecovering.all.isEmpty)")
    }

    /// The value of an unlabelled sample in Prometheus text (`name 3` or `name 3.0`), or nil.
    static func metric(_ text: String, _ name: String) -> Double? {
        for line in text.split(separator: "\n") where line.hasPrefix(name + " ") {
            return Double(line.split(separator: " ").last ?? "")
        }
        return nil
    }

    @Test func crashesBeyondTheBudgetFailTheServiceWithANonZeroExit() throws {
        let path = CLI.scratch("budget-\(UUID().uuidString).yaml")
        try config(path, stages: 2, extra: "recovery: {max_restarts: 1, restart_window: 600}")
        let server = try LiveServer(arguments: ["--config", path])
        defer { server.stop() }
        let first = childPIDs(of: server.process.processIdentifier)
        try #require(first.count == 2)
        kill(first[0], SIGKILL)
        // Wait for the restarted ring: new stage processes and a restart on record (a /health of
        // 200 alone can still come from the old ring before the crash is noticed).
        var stages: [Int32] = []
        for _ in 0..<500 {
            stages = childPIDs(of: server.process.processIdentifier)
            let health = try? server.get("/health")
            if stages.count == 2, Set(stages).isDisjoint(with: first), health?.0 == 200,
               health?.1.contains("\"restarts\":1") == true { break }
            usleep(20_000)
        }
        try #require(stages.count == 2 && Set(stages).isDisjoint(with: first), "\(server.log)")
        // The second crash within the window is one too many: the daemon fails and exits 1 so
        // that systemd's Restart=on-failure takes over; its stages go with it.
        kill(stages[1], SIGKILL)
        let deadline = Date().addingTimeInterval(30)
        while server.process.isRunning && Date() < deadline { usleep(20_000) }
        try #require(!server.process.isRunning, "the daemon did not exit: \(server.log)")
        #expect(server.process.terminationStatus == 1, "\(server.log)")
        #expect(server.log.contains("2 stage failures within 600 s"), "\(server.log)")
        for _ in 0..<200 where stages.contains(where: processExists) { usleep(10_000) }
        #expect(!stages.contains(where: processExists))
    }

    @Test func sighupAppliesANewStageCountWithoutLosingARequest() throws {
        let path = CLI.scratch("reload-\(UUID().uuidString).yaml")
        try config(path, stages: 2)
        let server = try LiveServer(arguments: ["--config", path])
        defer { server.stop() }
        #expect(try server.get("/health").1.components(separatedBy: "\"index\"").count - 1 == 2)
        try config(path, stages: 3, prefillChunk: 8, extra: "http: {max_body_bytes: 65536}")
        let results = runAll(server) {
            usleep(100_000)
            kill(server.process.processIdentifier, SIGHUP)
        }
        let bad = results.values.filter { $0.0 != 200 || Self.text($0.1) == nil }.map { "\($0.0) \($0.1.suffix(600))" }
        #expect(results.count == 32 && results.values.allSatisfy { $0.0 == 200 && Self.text($0.1) != nil },
                "\(bad)")
        var stages = 0
        for _ in 0..<200 {
            let (s, h) = try server.get("/health")
            stages = s == 200 ? h.components(separatedBy: "\"index\"").count - 1 : 0
            if stages == 3 { break }
            usleep(50_000)
        }
        #expect(stages == 3, "\(server.log)")
        #expect(childPIDs(of: server.process.processIdentifier).count == 3)
        #expect(server.log.contains("http changed; that takes effect at the next restart"), "\(server.log)")
        // prefill_chunk_tokens goes with the partition: applied, not reported as needing a restart.
        #expect(!server.log.contains("scheduler changed"), "\(server.log)")
        // The same requests give the same text on the new partition.
        let again = runAll(server)
        for i in 0..<32 {
            #expect(Self.text(again[i]?.1 ?? "") == Self.text(results[i]?.1 ?? "-"),
                    "request \(i): status \(again[i]?.0 ?? -1), body ends \((again[i]?.1 ?? "").suffix(300))")
        }
        if (0..<32).contains(where: { Self.text(again[$0]?.1 ?? "") == nil }) { Issue.record("daemon log:\n\(server.log.suffix(4000))") }

        // An invalid file keeps the running configuration.
        try "pipeline: {stages: many}\n".write(toFile: path, atomically: true, encoding: .utf8)
        kill(server.process.processIdentifier, SIGHUP)
        for _ in 0..<100 where !server.log.contains("keeping the running configuration") { usleep(20_000) }
        #expect(server.log.contains("pipeline.stages"), "\(server.log)")
        #expect(try server.get("/health").0 == 200)
        #expect(try server.post("/v1/completions", #"{"prompt":"still there","max_tokens":3}"#).0 == 200)
        #expect(server.stop() == 0)
    }

    /// A burst of reloads ends on what the file says last. 2 → 3 → 2 used to end on 3: the second
    /// SIGHUP compared the file (2) with the settings still running (2, the first reload not yet
    /// finished), logged "unchanged", and the first then switched to 3.
    @Test func aBurstOfReloadsEndsOnTheLastFile() throws {
        let path = CLI.scratch("burst-\(UUID().uuidString).yaml")
        try config(path, stages: 2)
        let server = try LiveServer(arguments: ["--config", path])
        defer { server.stop() }
        let pid = server.process.processIdentifier
        // Applying a partition takes longer than 60 ms (stages restart): the later SIGHUPs arrive
        // while the first is being applied.
        let text = try String(contentsOfFile: path, encoding: .utf8)  // the same model file throughout
        try text.replacingOccurrences(of: "stages: 2", with: "stages: 3").write(toFile: path, atomically: true, encoding: .utf8)
        kill(pid, SIGHUP)
        usleep(60_000)
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        kill(pid, SIGHUP)
        // Both changes are applied, in order.
        for _ in 0..<300 where server.log.components(separatedBy: "new partition running").count - 1 < 2 { usleep(50_000) }
        #expect(server.log.components(separatedBy: "new partition running").count - 1 == 2, "\(server.log)")
        let (status, health) = try server.get("/health")
        #expect(status == 200 && health.components(separatedBy: "\"index\"").count - 1 == 2, "\(health)")
        let metrics = try server.get("/metrics").1
        #expect(metrics.contains("pipeserve:pipeline_stages 2"), "\(metrics)")
        #expect(childPIDs(of: pid).count == 2)
        #expect(try server.post("/v1/completions", #"{"prompt":"after the burst","max_tokens":3}"#).0 == 200)
    }

    @Test func aKilledCoordinatorLeavesNoStagesAndTheNextStartWorks() throws {
        let dir = CLI.scratch("sockets-\(UUID().uuidString)")
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let path = CLI.scratch("kill9-\(UUID().uuidString).yaml")
        try config(path, stages: 2)
        let first = try LiveServer(arguments: ["--config", path, "--socket-dir", dir])
        let stages = childPIDs(of: first.process.processIdentifier)
        #expect(stages.count == 2)
        kill(first.process.processIdentifier, SIGKILL)
        first.process.waitUntilExit()
        for _ in 0..<200 where stages.contains(where: processExists) { usleep(10_000) }
        #expect(!stages.contains(where: processExists), "orphaned stages")
        let stale = try FileManager.default.contentsOfDirectory(atPath: dir)
        #expect(stale.count == 1, "\(stale)")  // the dead daemon's ring directory is still there…
        let second = try LiveServer(arguments: ["--config", path, "--socket-dir", dir])
        #expect(try second.post("/v1/completions", #"{"prompt":"hello","max_tokens":3}"#).0 == 200)
        let now = try FileManager.default.contentsOfDirectory(atPath: dir)
        #expect(now.count == 1 && now != stale, "\(now)")  // …and the next start removed it
        #expect(second.stop() == 0)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).isEmpty)
    }
}

/// Direct children of a process (the stages of a daemon).
func childPIDs(of pid: Int32) -> [Int32] {
    let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []
    var out: [Int32] = []
    for t in tasks {
        let text = (try? String(contentsOfFile: "/proc/\(pid)/task/\(t)/children", encoding: .utf8)) ?? ""
        out += text.split(separator: " ").compactMap { Int32($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
    }
    return out.filter(processExists).sorted()
}

func processExists(_ pid: Int32) -> Bool {
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8), let close = stat.lastIndex(of: ")") else { return false }
    let state = stat[stat.index(close, offsetBy: 2)]
    return state != "Z" && state != "X"
}

final class Collected: @unchecked Sendable {
    // Sendable: guarded by `lock`.
    private let lock = NSLock()
    private var values: [Int: (Int, String)] = [:]
    func set(_ i: Int, _ v: (Int, String)) { lock.lock(); values[i] = v; lock.unlock() }
    var all: [Int: (Int, String)] { lock.lock(); defer { lock.unlock() }; return values }
}
