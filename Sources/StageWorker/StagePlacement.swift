import CPlatform
import Logging

/// Where a stage runs: the CPUs its threads may use and the NUMA node its memory comes from.
public struct StagePlacement: Sendable, Equatable {
    /// CPUs for the stage's threads (thread i is pinned to cpus[i % count]); empty = no pinning.
    public var cpus: [Int]
    /// NUMA node for memory (MPOL_BIND) and, when `cpus` is empty, for CPUs; nil = no binding.
    public var numaNode: Int?

    public init(cpus: [Int] = [], numaNode: Int? = nil) {
        self.cpus = cpus
        self.numaNode = numaNode
    }

    /// What the calling thread ended up with, read back from the kernel.
    public struct Observed: Sendable, Equatable, CustomStringConvertible {
        public var cpus: [Int]
        public var memoryPolicyMode: Int
        public var memoryNodeMask: UInt
        public var description: String {
            "cpus=\(cpus.map(String.init).joined(separator: ",")) mempolicy=\(memoryPolicyMode) nodes=0x\(String(memoryNodeMask, radix: 16))"
        }
    }

    public enum PlacementError: Error, CustomStringConvertible {
        case affinity(cpus: [Int], errno: Int32)
        case numaUnavailable(node: Int)
        case noSuchNode(node: Int, maxNode: Int)
        case bindMemory(node: Int, errno: Int32)
        public var description: String {
            switch self {
            case let .affinity(c, e): return "cannot pin to CPUs \(c): errno \(e)"
            case let .numaUnavailable(n): return "NUMA node \(n) requested but NUMA is not available on this machine"
            case let .noSuchNode(n, m): return "NUMA node \(n) does not exist (nodes 0…\(m))"
            case let .bindMemory(n, e): return "cannot bind memory to NUMA node \(n): errno \(e)"
            }
        }
    }

    /// The CPUs to pin threads to: explicit ones, else the node's CPUs, else none.
    public func effectiveCPUs() throws -> [Int] {
        if !cpus.isEmpty { return cpus }
        guard let node = numaNode else { return [] }
        return try Self.cpus(ofNode: node)
    }

    /// Applies the memory binding and pins the calling thread; call before mapping the model and
    /// before creating the compute pool (threads inherit the memory policy).
    public func apply(logger: Logger) throws {
        if let node = numaNode {
            guard ps_sys_numa_available() == 1 else { throw PlacementError.numaUnavailable(node: node) }
            let maxNode = Int(ps_sys_numa_max_node())
            guard node >= 0, node <= maxNode else { throw PlacementError.noSuchNode(node: node, maxNode: maxNode) }
            let rc = ps_sys_numa_bind_memory(Int32(node))
            guard rc == 0 else { throw PlacementError.bindMemory(node: node, errno: rc) }
        }
        let pins = try effectiveCPUs()
        if let first = pins.first {
            var one = [Int32(first)]
            let rc = ps_sys_set_thread_affinity(&one, 1)
            guard rc == 0 else { throw PlacementError.affinity(cpus: [first], errno: rc) }
        }
        logger.info("stage placement applied", metadata: ["stage.cpus": "\(pins)", "stage.numa_node": "\(numaNode.map(String.init) ?? "none")"])
    }

    /// CPUs of a NUMA node.
    public static func cpus(ofNode node: Int) throws -> [Int] {
        guard ps_sys_numa_available() == 1 else { throw PlacementError.numaUnavailable(node: node) }
        let maxNode = Int(ps_sys_numa_max_node())
        guard node >= 0, node <= maxNode else { throw PlacementError.noSuchNode(node: node, maxNode: maxNode) }
        var buf = [Int32](repeating: 0, count: 4096)
        let n = ps_sys_numa_node_cpus(Int32(node), &buf, Int32(buf.count))
        return n > 0 ? buf.prefix(Int(n)).map(Int.init) : []
    }

    /// Number of NUMA nodes (1 when NUMA is unavailable).
    public static var nodeCount: Int { ps_sys_numa_available() == 1 ? Int(ps_sys_numa_max_node()) + 1 : 1 }

    /// Reads back the calling thread's CPU affinity and memory policy.
    public static func observe() -> Observed {
        var buf = [Int32](repeating: 0, count: 4096)
        let n = ps_sys_get_thread_affinity(&buf, Int32(buf.count))
        var mode: Int32 = 0
        var mask: UInt = 0
        _ = ps_sys_get_mempolicy(&mode, &mask)
        return Observed(cpus: n > 0 ? buf.prefix(Int(n)).map(Int.init) : [], memoryPolicyMode: Int(mode), memoryNodeMask: mask)
    }
}
