/// Why a ``SchedulerConfiguration`` (or another input of this module) was refused.
public enum SchedulingError: Error, Equatable, Sendable, CustomStringConvertible {
    /// `field` holds `value`, which breaks `requirement` (e.g. "must be >= 1").
    case invalidConfiguration(field: String, value: Int, requirement: String)

    public var description: String {
        switch self {
        case let .invalidConfiguration(field, value, requirement):
            return "invalid scheduler configuration: \(field) = \(value) \(requirement)"
        }
    }
}
