import CKernels

/// The instruction-set level the quantized kernels run at. Levels may round differently from
/// one another; within one level every result is reproducible bit for bit.
public enum KernelISA: Int32, Sendable, CaseIterable, Comparable {
    /// Plain C; runs on any CPU.
    case portable = 0
    /// AVX2 + FMA + F16C.
    case avx2 = 1
    /// AVX-512 F/BW/VL.
    case avx512 = 2

    /// The highest level this CPU supports.
    public static var detected: KernelISA { KernelISA(rawValue: ps_isa_detected()) ?? .portable }

    /// The level in use (process-wide; `detected` unless changed with `select`).
    public static var current: KernelISA { KernelISA(rawValue: ps_isa_current()) ?? .portable }

    /// Selects a level for the whole process, clamped to `detected`; returns the level now in use.
    /// Meant for tests and benchmarks that exercise every path.
    @discardableResult
    public static func select(_ level: KernelISA) -> KernelISA {
        KernelISA(rawValue: ps_isa_set(level.rawValue)) ?? .portable
    }

    /// Whether the CPU has AVX-512 VNNI, which the `.avx512` level's integer (8-bit activation)
    /// kernels need; without it that level runs the AVX2 integer kernels.
    public static var hasVNNI: Bool { ps_isa_vnni() != 0 }

    /// The levels this CPU can run, lowest first.
    public static var available: [KernelISA] { allCases.filter { $0 <= detected } }

    public static func < (a: KernelISA, b: KernelISA) -> Bool { a.rawValue < b.rawValue }
}
