#if canImport(Glibc)
import Glibc
#endif

/// The monotonic clock used for heartbeats, timeouts and stage timings.
public enum WireClock {
    /// Nanoseconds of CLOCK_MONOTONIC (not wall time; comparable only within one machine).
    public static func monotonicNanoseconds() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
    }

    /// A `Duration` in whole nanoseconds, clamped to 0 ... UInt64.max.
    static func nanoseconds(_ d: Duration) -> UInt64 {
        let c = d.components
        if c.seconds < 0 { return 0 }
        let (s, o) = UInt64(c.seconds).multipliedReportingOverflow(by: 1_000_000_000)
        if o { return .max }
        let (t, o2) = s.addingReportingOverflow(UInt64(max(0, c.attoseconds / 1_000_000_000)))
        return o2 ? .max : t
    }

    /// now + `d`, saturating.
    static func deadline(after d: Duration) -> UInt64 {
        let (t, o) = monotonicNanoseconds().addingReportingOverflow(nanoseconds(d))
        return o ? .max : t
    }
}
