import Foundation
import Testing
@testable import SystemdNotify

/// The notify protocol against a test-owned datagram socket standing in for systemd.
@Suite struct SystemdNotifierTests {
    /// A bound AF_UNIX datagram socket; `receive` returns one datagram.
    final class FakeSystemd {
        let fd: Int32
        let path: String

        init(abstract: Bool) throws {
            fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
            path = abstract ? "@pipeserve-test-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
                : FileManager.default.temporaryDirectory.appendingPathComponent("notify-\(getpid())-\(UInt32.random(in: 0...UInt32.max))").path
            var addr = sockaddr_un()
            addr.sun_family = sa_family_t(AF_UNIX)
            var bytes = Array(path.utf8)
            if abstract { bytes[0] = 0 }
            withUnsafeMutableBytes(of: &addr.sun_path) { raw in for (i, b) in bytes.enumerated() { raw[i] = b } }
            let len = socklen_t(MemoryLayout<sa_family_t>.size + bytes.count + (abstract ? 0 : 1))
            let rc = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) } }
            guard rc == 0 else { throw SystemdNotifier.NotifyError.socket(errno: errno) }
            var tv = timeval(tv_sec: 2, tv_usec: 0)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        }

        func receive() -> String {
            var buf = [UInt8](repeating: 0, count: 4096)
            let n = recv(fd, &buf, buf.count, 0)
            return n > 0 ? String(decoding: buf[0..<n], as: UTF8.self) : ""
        }

        deinit {
            close(fd)
            if !path.hasPrefix("@") { unlink(path) }
        }
    }

    @Test(arguments: [false, true])
    func notificationsArriveAsSent(abstract: Bool) throws {
        let systemd = try FakeSystemd(abstract: abstract)
        let n = try #require(SystemdNotifier(environment: ["NOTIFY_SOCKET": systemd.path]))
        try n.status("loading stage 1 of 2")
        #expect(systemd.receive() == "STATUS=loading stage 1 of 2")
        try n.ready(status: "serving\non two lines")
        #expect(systemd.receive() == "READY=1\nSTATUS=serving on two lines")
        try n.watchdog()
        #expect(systemd.receive() == "WATCHDOG=1")
        try n.reloading(status: "reloading")
        let reloading = systemd.receive().split(separator: "\n")
        #expect(reloading.count == 3 && reloading[0] == "RELOADING=1" && reloading[2] == "STATUS=reloading", "\(reloading)")
        #expect(reloading.count > 1 && reloading[1].hasPrefix("MONOTONIC_USEC=") && (UInt64(reloading[1].dropFirst(15)) ?? 0) > 0)
        try n.stopping(status: "draining")
        #expect(systemd.receive() == "STOPPING=1\nSTATUS=draining")
    }

    @Test func environmentDecidesWhetherAndHowOften() {
        #expect(SystemdNotifier(environment: [:]) == nil)
        #expect(SystemdNotifier(environment: ["NOTIFY_SOCKET": "relative"]) == nil)
        let w = SystemdNotifier(environment: ["NOTIFY_SOCKET": "/run/x", "WATCHDOG_USEC": "10000000", "WATCHDOG_PID": "\(getpid())"])
        #expect(w?.watchdogIntervalMicroseconds == 5_000_000)
        let other = SystemdNotifier(environment: ["NOTIFY_SOCKET": "/run/x", "WATCHDOG_USEC": "10000000", "WATCHDOG_PID": "1"])
        #expect(other?.watchdogIntervalMicroseconds == nil)
    }

    @Test func aMissingListenerIsAnErrorNotACrash() throws {
        let n = try #require(SystemdNotifier(environment: ["NOTIFY_SOCKET": "/nonexistent/notify"]))
        #expect(throws: SystemdNotifier.NotifyError.self) { try n.ready(status: "x") }
        let long = try #require(SystemdNotifier(environment: ["NOTIFY_SOCKET": "/" + String(repeating: "a", count: 200)]))
        #expect(throws: SystemdNotifier.NotifyError.self) { try long.status("x") }
    }
}
