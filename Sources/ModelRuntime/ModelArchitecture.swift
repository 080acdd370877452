/// The model families the runtime implements. One file per architecture describes its
/// hyperparameters and the per-layer choices (`Gemma3.swift`, `Llama.swift`, `Qwen2.swift`).
public enum ModelArchitecture: String, Sendable, CaseIterable {
    case gemma3, llama, qwen2

    /// Names accepted in `general.architecture`.
    public static var supportedNames: [String] { allCases.map(\.rawValue) }
}

/// Feed-forward activation of the gated FFN.
public enum FeedForwardActivation: Sendable { case geluTanh, silu }

/// What one layer does that differs between architectures.
public struct LayerStyle: Sendable, Equatable {
    /// Keys visible to a query: `nil` = all earlier positions, otherwise the last `window` positions.
    public var slidingWindow: Int?
    /// RoPE angle per pair, already including base and scaling (positions multiply it).
    public var ropeInverseFrequencies: [Double]
}
