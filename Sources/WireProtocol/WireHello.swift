/// Activation element type used for hidden states on the wire. Senders convert from f32 on
/// encode (round-to-nearest-even) and receivers always get f32 back.
public enum WireActivationDType: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    case f32 = 0
    case f16 = 1
    case bf16 = 2

    /// Bytes per element on the wire.
    public var byteWidth: Int { self == .f32 ? 4 : 2 }

    public var description: String {
        switch self {
        case .f32: return "f32"
        case .f16: return "f16"
        case .bf16: return "bf16"
        }
    }
}

/// Opening message of a link: the receiver checks version, model identity and layer range and
/// answers `helloAck` or `error`.
public struct WireHello: Sendable, Equatable {
    /// Protocol version the sender speaks (normally `WireFrame.version`).
    public var protocolVersion: UInt16
    /// The model file the whole pipeline must be serving.
    public var model: ModelIdentity
    /// Number of stages P in the pipeline.
    public var stageCount: UInt16
    /// Who the sender believes the receiver is (a stage, or the coordinator at the ring's end).
    public var receiver: WireRole
    /// Layers [start, end) the receiver must run; empty when the receiver is the coordinator.
    public var layerRange: Range<UInt32>
    /// Element type of hidden states on this link.
    public var activationDType: WireActivationDType
    /// Who sent this hello.
    public var sender: WireRole

    public init(protocolVersion: UInt16 = WireFrame.version, model: ModelIdentity, stageCount: UInt16,
                receiver: WireRole, layerRange: Range<UInt32>, activationDType: WireActivationDType,
                sender: WireRole) {
        self.protocolVersion = protocolVersion
        self.model = model
        self.stageCount = stageCount
        self.receiver = receiver
        self.layerRange = layerRange
        self.activationDType = activationDType
        self.sender = sender
    }
}

/// Acceptance of a `hello`: who accepted and its process id (for logs and supervision).
public struct WireHelloAck: Sendable, Equatable {
    /// The accepting end (normally the stage index the hello named).
    public var receiver: WireRole
    /// The accepting process's pid.
    public var pid: Int32

    public init(receiver: WireRole, pid: Int32) {
        self.receiver = receiver
        self.pid = pid
    }
}

/// A liveness probe carrying a sequence number and the sender's monotonic send time.
public struct WireHeartbeat: Sendable, Equatable {
    public var sequenceNumber: UInt64
    /// Monotonic nanoseconds at send time (see `WireClock.monotonicNanoseconds`).
    public var sentAtNanoseconds: UInt64

    public init(sequenceNumber: UInt64, sentAtNanoseconds: UInt64) {
        self.sequenceNumber = sequenceNumber
        self.sentAtNanoseconds = sentAtNanoseconds
    }
}
