import WireProtocol

/// Checks a `hello` against what the receiver is; returns nil when acceptable, else the refusal.
public enum Handshake {
    /// Validates a hello received by `receiver`.
    public static func refusal(of hello: WireHello, receiver: WireRole, identity: ModelIdentity, stageCount: Int,
                               layers: Range<Int>?, dtype: WireActivationDType) -> WireErrorReport? {
        func refuse(_ code: WireErrorCode, _ message: String) -> WireErrorReport {
            WireErrorReport(origin: receiver, code: code, message: message)
        }
        if hello.protocolVersion != WireFrame.version {
            return refuse(.versionMismatch, "protocol version \(hello.protocolVersion), expected \(WireFrame.version)")
        }
        if hello.model != identity {
            return refuse(.modelMismatch, "model \(hello.model) differs from this process's \(identity)")
        }
        if hello.receiver != receiver { return refuse(.configurationMismatch, "hello addressed to \(hello.receiver), this is \(receiver)") }
        if Int(hello.stageCount) != stageCount {
            return refuse(.configurationMismatch, "stage count \(hello.stageCount), expected \(stageCount)")
        }
        if let layers, hello.layerRange != UInt32(layers.lowerBound)..<UInt32(layers.upperBound) {
            return refuse(.configurationMismatch, "layer range \(hello.layerRange), this stage runs \(layers)")
        }
        if hello.activationDType != dtype {
            return refuse(.configurationMismatch, "activation dtype \(hello.activationDType), expected \(dtype)")
        }
        return nil
    }
}
