/// A well-known error code carried in a `WireErrorReport` (u16). Other values are allowed.
public struct WireErrorCode: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    /// The hello's protocol version is not supported.
    public static let versionMismatch = WireErrorCode(rawValue: 1)
    /// The hello's model identity differs from the file this process serves.
    public static let modelMismatch = WireErrorCode(rawValue: 2)
    /// The hello's stage index, stage count or layer range do not fit this process.
    public static let configurationMismatch = WireErrorCode(rawValue: 3)
    /// A malformed frame arrived; the link is being closed.
    public static let malformedFrame = WireErrorCode(rawValue: 4)
    /// A message arrived that is not valid in the current state.
    public static let unexpectedMessage = WireErrorCode(rawValue: 5)
    /// The stage could not load or run its layers (out of memory, bad tensor, ...).
    public static let internalFailure = WireErrorCode(rawValue: 6)
    /// The sender is shutting down.
    public static let shuttingDown = WireErrorCode(rawValue: 7)
    /// A batch names a prefix-cache block the stage does not hold; nothing of the batch ran.
    public static let blockMissing = WireErrorCode(rawValue: 8)

    public var description: String {
        switch self {
        case .versionMismatch: return "versionMismatch"
        case .modelMismatch: return "modelMismatch"
        case .configurationMismatch: return "configurationMismatch"
        case .malformedFrame: return "malformedFrame"
        case .unexpectedMessage: return "unexpectedMessage"
        case .internalFailure: return "internalFailure"
        case .shuttingDown: return "shuttingDown"
        case .blockMissing: return "blockMissing"
        default: return "code \(rawValue)"
        }
    }
}

/// Payload of `WireMessage.error`: who reports, a code, the batch it concerns (if one), and a
/// human-readable message.
public struct WireErrorReport: Sendable, Equatable {
    /// Longest message in UTF-8 bytes; longer messages are cut at a scalar boundary by `init`.
    public static let maxMessageBytes = 4096

    /// The reporting process (i32 on the wire, -1 = coordinator).
    public let origin: WireRole
    public let code: WireErrorCode
    /// The batch a stage could not run (the coordinator fails that batch's sequences and goes on);
    /// nil when the report concerns the link or the stage itself. u64 on the wire, 0 = none.
    public let batch: BatchID?
    /// At most `maxMessageBytes` bytes of UTF-8.
    public let message: String

    public init(origin: WireRole, code: WireErrorCode, batch: BatchID? = nil, message: String) {
        self.origin = origin
        self.code = code
        self.batch = batch.flatMap { $0.rawValue == 0 ? nil : $0 }
        self.message = Self.truncated(message)
    }

    static func truncated(_ s: String) -> String {
        if s.utf8.count <= maxMessageBytes { return s }
        var out = String.UnicodeScalarView()
        var bytes = 0
        for scalar in s.unicodeScalars {
            let n = UTF8.width(scalar)
            if bytes + n > maxMessageBytes { break }
            bytes += n
            out.append(scalar)
        }
        return String(out)
    }
}
