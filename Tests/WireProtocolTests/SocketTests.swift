import Foundation
import Testing
import WireProtocol
import ServingTypes

/// A short private directory for socket files (sun_path is only 108 bytes).
func makeTempDir() throws -> String {
    var template = Array("/tmp/pswp.XXXXXX".utf8CString)
    let p = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
    guard p != nil else { throw WireError.systemCall(operation: "mkdtemp", errno: errno) }
    return String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

/// Runs `body` on a new thread; `join()` waits and returns its result.
final class Worker<T: Sendable>: @unchecked Sendable {
    // Safe: `result` is written once by the worker before `done.signal()` and read only after `done.wait()`.
    private var result: Result<T, any Error>?
    private let done = DispatchSemaphore(value: 0)
    init(_ body: @escaping @Sendable () throws -> T) {
        Thread.detachNewThread {
            self.result = Result { try body() }
            self.done.signal()
        }
    }
    func join() throws -> T {
        done.wait()
        return try result!.get()
    }
}

@Suite struct SocketTests {
    @Test func messagesOverASocketPairIncludingA512x640Batch() throws {
        let (a, b) = try UnixSocket.pair()
        let sender = WireConnection(socket: a), receiver = WireConnection(socket: b)
        let big = Samples.batch(entries: 16, rows: 512, width: 640)
        let messages = Samples.messages + [.forwardBatch(big), .reset]
        let w = Worker { for m in messages { try sender.send(m) } }
        var got: [WireMessage] = []
        for _ in messages { got.append(try receiver.receive(timeout: .seconds(20))) }
        try w.join()
        #expect(got == messages)

        // Zero-copy send of caller-owned f32 data, and an f16 one.
        var metaVar = big
        metaVar.hiddenStates = nil
        let meta = metaVar
        let values = big.hiddenStates!.values
        let w2 = Worker {
            try values.withUnsafeBufferPointer { buf in
                try sender.sendForwardBatch(meta, hiddenStates: buf, rows: 512, width: 640, dtype: .f32)
                try sender.sendForwardBatch(meta, hiddenStates: buf, rows: 512, width: 640, dtype: .f16)
            }
        }
        #expect(try receiver.receive(timeout: .seconds(20)) == .forwardBatch(big))
        guard case let .forwardBatch(half) = try receiver.receive(timeout: .seconds(20)) else {
            Issue.record("expected a forward batch"); return
        }
        try w2.join()
        #expect(half.hiddenStates?.dtype == .f16 && half.hiddenStates?.values.count == 512 * 640)
        #expect(half.entries == big.entries)
    }

    @Test func endOfStreamIsClosedAndMidFrameIsDistinct() throws {
        let (a, b) = try UnixSocket.pair()
        let receiver = WireConnection(socket: b)
        try WireConnection(socket: a).send(.shutdown)
        a.close()
        #expect(try receiver.receive() == .shutdown)
        #expect(throws: WireError.closed) { try receiver.receive() }

        let (c, d) = try UnixSocket.pair()
        try c.writeAll(Array(WireCodec.encode(.heartbeat(WireHeartbeat(sequenceNumber: 1, sentAtNanoseconds: 1)))[..<20]))
        c.close()
        #expect(throws: WireError.closedMidFrame(bufferedBytes: 20)) { try WireConnection(socket: d).receive() }
    }

    @Test func writingToAClosedPeerIsAnErrorNotSIGPIPE() throws {
        let (a, b) = try UnixSocket.pair()
        b.close()
        #expect(throws: WireError.closed) { try WireConnection(socket: a).send(.reset) }
    }

    @Test func receiveTimeoutFiresAndLosesNothing() throws {
        let (a, b) = try UnixSocket.pair()
        let receiver = WireConnection(socket: b, spin: .microseconds(20))
        let frame = WireCodec.encode(.heartbeat(WireHeartbeat(sequenceNumber: 9, sentAtNanoseconds: 3)))
        try a.writeAll(Array(frame[..<10]))  // half a frame, then silence
        let t0 = WireClock.monotonicNanoseconds()
        #expect(throws: WireError.timedOut) { try receiver.receive(timeout: .milliseconds(60)) }
        let elapsed = WireClock.monotonicNanoseconds() - t0
        #expect(elapsed >= 60_000_000 && elapsed < 2_000_000_000)
        try a.writeAll(Array(frame[10...]))
        #expect(try receiver.receive(timeout: .seconds(5)) == .heartbeat(WireHeartbeat(sequenceNumber: 9, sentAtNanoseconds: 3)))
    }

    @Test func shutdownWakesABlockedReceiver() throws {
        let (_a, b) = try UnixSocket.pair()
        let receiver = WireConnection(socket: b)
        let w = Worker { () -> WireError? in
            do { _ = try receiver.receive(); return nil } catch { return error as? WireError }
        }
        usleep(50_000)
        receiver.shutdown()
        #expect(try w.join() == .closed)
        _a.close()
    }

    @Test func peerCredentialsAreOurOwn() throws {
        let (a, b) = try UnixSocket.pair()
        let creds = try a.peerCredentials()
        #expect(creds == PeerCredentials(pid: getpid(), uid: getuid(), gid: getgid()))
        #expect(try b.peerCredentials().pid == getpid())
    }

    @Test func listenConnectAcceptAndRejectOtherUIDs() throws {
        let dir = try makeTempDir()
        defer { rmdir(dir) }
        let path = dir + "/s0.sock"
        let listener = try UnixListener(path: path)
        let client = try UnixSocket.connect(path: path, timeout: .seconds(5))
        let server = try listener.acceptRejectingOtherUIDs(timeout: .seconds(5))
        #expect(try server.peerCredentials().uid == getuid())
        let cc = WireConnection(socket: client), sc = WireConnection(socket: server)
        try cc.send(.hello(WireHello(model: Samples.model, stageCount: 2, receiver: .stage(StageIndex(0)),
                                     layerRange: 0 ..< 9, activationDType: .f32, sender: .coordinator)))
        guard case .hello = try sc.receive(timeout: .seconds(5)) else { Issue.record("no hello"); return }
        try sc.send(.helloAck(WireHelloAck(receiver: .stage(StageIndex(0)), pid: getpid())))
        #expect(try cc.receive(timeout: .seconds(5)) == .helloAck(WireHelloAck(receiver: .stage(StageIndex(0)), pid: getpid())))

        // A peer of "another" uid (we pretend ours is foreign) is closed and reported.
        let intruder = try UnixSocket.connect(path: path, timeout: .seconds(5))
        var rejected: [WireError] = []
        #expect(throws: WireError.timedOut) {
            _ = try listener.acceptRejectingOtherUIDs(uid: getuid() &+ 1, timeout: .milliseconds(100)) { rejected.append($0) }
        }
        #expect(rejected == [.peerRejected(pid: getpid(), uid: getuid(), expectedUID: getuid() &+ 1)])
        #expect(throws: WireError.closed) { try WireConnection(socket: intruder).receive(timeout: .seconds(5)) }

        listener.close()
        #expect(access(path, F_OK) != 0)  // socket file removed
    }

    @Test func connectRetriesUntilTheListenerAppears() throws {
        let dir = try makeTempDir()
        defer { rmdir(dir) }
        let path = dir + "/late.sock"
        let w = Worker { try UnixSocket.connect(path: path, timeout: .seconds(10), retryInterval: .milliseconds(5)) }
        usleep(80_000)
        let listener = try UnixListener(path: path)
        let server = try listener.accept(timeout: .seconds(10))
        let client = try w.join()
        try WireConnection(socket: client).send(.reset)
        #expect(try WireConnection(socket: server).receive(timeout: .seconds(5)) == .reset)
        listener.close()

        let t0 = WireClock.monotonicNanoseconds()
        #expect(throws: WireError.connectTimedOut(path: dir + "/none.sock", lastErrno: ENOENT)) {
            _ = try UnixSocket.connect(path: dir + "/none.sock", timeout: .milliseconds(50))
        }
        #expect(WireClock.monotonicNanoseconds() - t0 >= 50_000_000)
        #expect(throws: WireError.timedOut) {
            _ = try UnixListener(path: dir + "/idle.sock").accept(timeout: .milliseconds(30))
        }
    }

    @Test func staleSocketFileIsReplacedButOtherFilesAreNot() throws {
        let dir = try makeTempDir()
        defer { rmdir(dir) }
        let path = dir + "/stale.sock"
        // Leave a socket file behind, as a crashed process would.
        let old = try UnixListener(path: path)
        var st = stat()
        #expect(lstat(path, &st) == 0)
        let fresh = try UnixListener(path: path)  // replaces the stale file
        old.close()                               // must not unlink the new listener's file
        #expect(access(path, F_OK) == 0)
        fresh.close()

        let file = dir + "/plain"
        #expect(FileManager.default.createFile(atPath: file, contents: Data([1])))
        #expect(throws: WireError.pathIsNotASocket(path: file)) { _ = try UnixListener(path: file) }
        unlink(file)
    }

    @Test func tooLongPathIsAClearError() throws {
        let path = "/tmp/" + String(repeating: "p", count: 103)  // 108 bytes
        let expected = WireError.socketPathTooLong(path: path, bytes: 108, limit: 107)
        #expect(throws: expected) { _ = try UnixListener(path: path) }
        #expect(throws: expected) { _ = try UnixSocket.connect(path: path, timeout: .milliseconds(1)) }
        #expect(expected.description.contains("107"))
        // 107 bytes is allowed (bind then fails only because the directory does not exist).
        let ok = "/tmp/" + String(repeating: "q", count: 102)
        #expect(throws: WireError.connectTimedOut(path: ok, lastErrno: ENOENT)) {
            _ = try UnixSocket.connect(path: ok, timeout: .milliseconds(1))
        }
    }

    @Test func descriptorsAreCloseOnExec() throws {
        let dir = try makeTempDir()
        defer { rmdir(dir) }
        let listener = try UnixListener(path: dir + "/x.sock")
        let client = try UnixSocket.connect(path: dir + "/x.sock")
        let server = try listener.accept()
        let (p, q) = try UnixSocket.pair()
        for fd in [listener.fileDescriptor, client.fileDescriptor, server.fileDescriptor, p.fileDescriptor, q.fileDescriptor] {
            #expect(fcntl(fd, F_GETFD) & FD_CLOEXEC != 0)
        }
        listener.close()
    }

    @Test func sendRefusesFramesOverTheLimit() throws {
        let (a, _b) = try UnixSocket.pair()
        let c = WireConnection(socket: a, maxFrameSize: 1024)
        let m = WireMessage.freeSequences((0 ..< 200).map { SequenceID($0) })
        #expect(throws: WireError.frameTooLarge(frameSize: UInt64(16 + 4 + 1600), limit: 1024)) { try c.send(m) }
        _b.close()
    }
}

/// A real process of another uid (nobody, via setpriv) connecting to a listener is refused by the
/// SO_PEERCRED check; the ring's directory (0700) would stop it even earlier, so this listener's
/// directory and socket are opened up on purpose.
@Suite struct ForeignPeerTests {
    @Test(.enabled(if: getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv")
                   && FileManager.default.isExecutableFile(atPath: "/usr/bin/python3")))
    func aPeerOfAnotherUIDIsRefused() throws {
        let dir = try makeTempDir()
        defer { rmdir(dir) }
        chmod(dir, 0o777)
        let path = dir + "/s0.sock"
        let listener = try UnixListener(path: path)
        defer { listener.close() }
        chmod(path, 0o777)
        let nobody: UInt32 = 65534
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
        p.arguments = ["--reuid=\(nobody)", "--regid=\(nobody)", "--clear-groups", "/usr/bin/python3", "-c",
                       "import socket,sys; s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); print(len(s.recv(16)))", path]
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        try p.run()
        var rejected: [WireError] = []
        #expect(throws: WireError.timedOut) {
            _ = try listener.acceptRejectingOtherUIDs(timeout: .seconds(3)) { rejected.append($0) }
        }
        p.waitUntilExit()
        #expect(rejected.count == 1)
        if case let .peerRejected(pid, uid, expected) = rejected.first {
            #expect(uid == nobody && expected == getuid() && pid == p.processIdentifier)
        } else {
            Issue.record("not rejected by uid: \(rejected)")
        }
        // The foreign client saw its connection closed without a byte.
        #expect(String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self) == "0\n")
    }
}
