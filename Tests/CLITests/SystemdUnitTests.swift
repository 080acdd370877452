import Foundation
import Testing

/// `systemd-analyze verify` only warns (exit 0) on unknown keys or bad values, so any output on
/// stderr counts as a failure (PLATFORM.md).
@Suite(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/systemd-analyze"), "systemd-analyze not installed"))
struct SystemdUnitTests {
    /// The repository (the unit, the default config, the scripts).
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    func verify(_ unit: String) throws -> CLIResult {
        let path = CLI.scratch("pipeserve-\(UUID().uuidString).service")
        try unit.write(toFile: path, atomically: true, encoding: .utf8)
        return try CLI.exec("/usr/bin/systemd-analyze", ["verify", path])
    }

    func shippedUnit() throws -> String {
        let unit = try String(contentsOf: root.appendingPathComponent("systemd/pipeserve.service"), encoding: .utf8)
        // Point ExecStart at the binary under test (verify checks that it is executable).
        return unit.replacingOccurrences(of: "/usr/local/bin/pipeserve", with: CLI.binary)
            .replacingOccurrences(of: "/etc/pipeserve/pipeserve.yaml", with: root.appendingPathComponent("config/pipeserve.yaml").path)
    }

    @Test func theShippedUnitVerifiesCleanly() throws {
        let unit = try shippedUnit()
        #expect(unit.contains("Type=notify") && unit.contains("KillMode=control-group") && unit.contains("RuntimeDirectory=pipeserve"))
        let r = try verify(unit)
        #expect(r.status == 0 && r.stderr.isEmpty, "\(r.stderr)")
    }

    @Test func aBrokenUnitIsCaughtByTheStderrRule() throws {
        let r = try verify(try shippedUnit().replacingOccurrences(of: "NoNewPrivileges=yes", with: "NoNewPrivilegez=yes"))
        #expect(!r.stderr.isEmpty)
    }

    /// scripts/test-systemd with this build: install into a staging tree, boot a real systemd in a
    /// container, start → completion → reload to 3 stages with a request in flight → stop.
    @Test(.enabled(if: getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/bin/systemd-nspawn"),
                   "needs root and systemd-nspawn (scripts/setup installs systemd-container)"))
    func theInstalledUnitRunsUnderARealSystemd() throws {
        let r = try CLI.exec(root.appendingPathComponent("scripts/test-systemd").path, ["--binary", CLI.binary], directory: root)
        let text = r.stdout + r.stderr
        #expect(r.status == 0 && text.contains("test-systemd: passed"), "\(text)")
        #expect(text.contains("stopped cleanly: Result=success, exit status 0"), "\(text)")
    }
}
