import WireProtocol

/// Everything a stage process is told on its command line by the coordinator.
public struct StageOptions: Sendable {
    public var modelPath: String
    public var index: Int
    public var stageCount: Int
    public var layers: Range<Int>
    /// Socket this stage listens on for its upstream peer (coordinator or stage index-1).
    public var listenPath: String
    /// Socket of the downstream peer (stage index+1, or the coordinator after the last stage).
    public var nextPath: String
    /// Layer range of the downstream stage (nil when downstream is the coordinator); sent in the
    /// hello so a mis-wired ring is refused at link-up.
    public var nextLayers: Range<Int>?
    public var threads: Int
    public var placement: StagePlacement
    public var activationDType: WireActivationDType
    /// How long to wait for the neighbours while linking up.
    public var linkTimeoutSeconds: Double
    /// Other stages' threads share this stage's CPUs: idle compute threads sleep soon.
    public var sharedCPUs: Bool

    public init(modelPath: String, index: Int, stageCount: Int, layers: Range<Int>, listenPath: String, nextPath: String,
                nextLayers: Range<Int>? = nil, threads: Int = 1, placement: StagePlacement = StagePlacement(), activationDType: WireActivationDType = .f32,
                linkTimeoutSeconds: Double = 60, sharedCPUs: Bool = false) {
        self.modelPath = modelPath; self.index = index; self.stageCount = stageCount; self.layers = layers
        self.listenPath = listenPath; self.nextPath = nextPath; self.nextLayers = nextLayers; self.threads = threads; self.placement = placement
        self.activationDType = activationDType; self.linkTimeoutSeconds = linkTimeoutSeconds
        self.sharedCPUs = sharedCPUs
    }

    public var isLast: Bool { index == stageCount - 1 }
    public var role: WireRole { .stage(StageIndex(UInt16(index))) }
    public var downstreamRole: WireRole { isLast ? .coordinator : .stage(StageIndex(UInt16(index + 1))) }
}

/// Why a stage stopped or could not start; the coordinator shows the message with the stage index.
public enum StageError: Error, CustomStringConvertible {
    case handshake(String)
    case link(String)
    case protocolViolation(String)

    public var description: String {
        switch self {
        case let .handshake(m): return "handshake failed: \(m)"
        case let .link(m): return "link failed: \(m)"
        case let .protocolViolation(m): return "protocol violation: \(m)"
        }
    }
}
