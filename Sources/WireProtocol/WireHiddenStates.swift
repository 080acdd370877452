/// A rows × width matrix of activations, row-major. Always f32 in memory; `dtype` is how it
/// travels (f16/bf16 are rounded to nearest-even on encode and widened back on decode).
public struct WireHiddenStates: Sendable, Equatable {
    /// Wire element type (on decode: the type the sender used).
    public var dtype: WireActivationDType
    public var rows: Int
    public var width: Int
    /// rows × width values, row-major. `values.count == rows * width` is required for encoding.
    public var values: [Float]

    public init(dtype: WireActivationDType = .f32, rows: Int, width: Int, values: [Float]) {
        self.dtype = dtype
        self.rows = rows
        self.width = width
        self.values = values
    }
}
