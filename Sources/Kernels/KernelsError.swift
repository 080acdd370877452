/// Why a kernel call was refused. Cases carry the values that did not fit.
public enum KernelsError: Error, Equatable, Sendable {
    /// `k` is not a positive multiple of the format's block size.
    case rowLengthNotBlockMultiple(format: WeightFormat, k: Int)
    /// The row stride is shorter than one row of `k` elements.
    case rowStrideTooSmall(format: WeightFormat, k: Int, rowBytes: Int, needed: Int)
    /// A stride, count or row range is negative, empty or inconsistent.
    case invalidShape(String)
}
