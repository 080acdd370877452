import Foundation
import WireProtocol

/// What linking up needs to know about the stages being started, however they run (processes or
/// threads).
public protocol RingMembers {
    /// The first stage that has ended (crashed, or refused to start), as the error naming it.
    func endedStage() -> RingError?
    /// Waits until every stage is linked, one has ended, or `deadline`; nil when all are ready.
    func waitAllReady(until deadline: Date) -> RingError?
}

/// The coordinator's two links of a starting ring, with their handshakes: to stage 0 (it sends
/// hello) and from the last stage (it accepts and checks its hello). Shared by the process ring
/// and the in-process one, so both link up — and fail to — the same way.
public enum RingLinks {
    /// Links up while `members` start; throws the error that names the stage at fault. Closes
    /// what it opened when it fails; the caller stops the members and removes the directory.
    public static func link(listener: UnixListener, directory: RuntimeDirectory, identity: ModelIdentity,
                            configuration c: RingConfiguration, members: any RingMembers)
        throws -> (toFirst: WireConnection, fromLast: WireConnection)
    {
        let p = c.stages.count
        let deadline = Date().addingTimeInterval(c.startupTimeoutSeconds)
        let timeout = Duration.milliseconds(Int64(c.startupTimeoutSeconds * 1000))

        // The last stage's link arrives whenever the chain behind it is up: accept it on a thread.
        let lastLink = LinkBox()
        let acceptThread = Thread {
            do {
                let sock = try listener.acceptRejectingOtherUIDs(timeout: timeout)
                let conn = WireConnection(socket: sock, spin: .zero)
                guard case let .hello(h) = try conn.receive(timeout: timeout) else {
                    conn.close()
                    throw RingError.refused("last stage did not send hello")
                }
                if let r = RingHandshake.refusal(h, identity: identity, stageCount: p) {
                    try? conn.send(.error(r))
                    conn.close()
                    throw RingError.refused(r.message)
                }
                try conn.send(.helloAck(WireHelloAck(receiver: .coordinator, pid: getpid())))
                lastLink.set(.success(conn))
            } catch {
                lastLink.set(.failure(error))
            }
        }
        acceptThread.start()

        // Link to stage 0 and handshake, watching for stages that end meanwhile.
        var firstLink: WireConnection?
        do {
            let first = WireConnection(socket: try UnixSocket.connect(path: directory.stageSocket(0), timeout: timeout))
            firstLink = first
            let layers = c.stages[0].layers
            try first.send(.hello(WireHello(model: identity, stageCount: UInt16(p), receiver: .stage(StageIndex(0)),
                                            layerRange: UInt32(layers.lowerBound)..<UInt32(layers.upperBound),
                                            activationDType: c.activationDType, sender: .coordinator)))
            var answer: WireMessage?
            while answer == nil {
                let r: Result<WireMessage, WireError>
                do { r = .success(try first.receive(timeout: .milliseconds(100))) } catch { r = .failure(error) }
                switch r {
                case let .success(m): answer = m
                case let .failure(e) where e != .timedOut: throw e
                case .failure:
                    if let ended = members.endedStage() { throw ended }
                    if Date() > deadline {
                        throw members.waitAllReady(until: Date())
                            ?? RingError.stageNotReady(stage: 0, seconds: c.startupTimeoutSeconds, detail: "no answer to hello")
                    }
                }
            }
            switch answer! {
            case .helloAck: break
            case let .error(r): throw RingError.refused(r.message)
            case let m: throw RingError.refused("stage 0 answered \(m.type) to hello")
            }
            if let notReady = members.waitAllReady(until: deadline) { throw notReady }
        } catch {
            firstLink?.close()
            if error is RingError { throw error }
            throw members.endedStage() ?? RingError.link(stage: 0, "\(error)")
        }
        guard let last = lastLink.wait(until: deadline) else {
            firstLink?.close()
            throw RingError.link(stage: nil, "no connection within \(Int(c.startupTimeoutSeconds)) s")
        }
        switch last {
        case let .success(conn): return (firstLink!, conn)
        case let .failure(e):
            firstLink?.close()
            throw members.endedStage() ?? e
        }
    }
}
