import CPlatform
import Foundation
import StageWorker

/// What the service needs to know about the machine it runs on.
public enum Machine {
    /// CPUs this process may run on (its affinity mask: taskset, systemd's CPUAffinity=, a
    /// cgroup's cpuset), or every configured CPU when the mask cannot be read.
    public static func usableCPUCount() -> Int {
        affinity()?.count ?? max(1, Int(ps_sys_cpu_count()))
    }

    /// The CPUs of this thread's affinity mask, nil when it cannot be read.
    private static func affinity() -> [Int]? {
        var buffer = [Int32](repeating: 0, count: 4096)
        let n = Int(ps_sys_get_thread_affinity(&buffer, Int32(buffer.count)))
        return n > 0 ? buffer[0..<n].map(Int.init) : nil
    }

    /// CPUs per NUMA node of this machine (one node with every CPU when NUMA is unavailable).
    public static func topology() -> [[Int]] {
        let count = StagePlacement.nodeCount
        let nodes = (0..<count).map { (try? StagePlacement.cpus(ofNode: $0)) ?? [] }
        if nodes.allSatisfy(\.isEmpty) { return [Array(0..<Int(ps_sys_cpu_count()))] }
        return nodes
    }

    /// CPUs a stage has on its NUMA node: the usable CPUs on a one-node machine, else the
    /// smallest node's CPUs among those the daemon may use.
    public static func nodeCPUCount() -> Int {
        let usable = usableCPUCount()
        let nodes = topology().filter { !$0.isEmpty }
        guard nodes.count > 1 else { return usable }
        let allowed = Set(affinity() ?? Array(nodes.joined()))
        return max(1, nodes.map { Set($0).intersection(allowed).count }.filter { $0 > 0 }.min() ?? usable)
    }

    /// Absolute path of the running executable (stages are spawned from it).
    public static func currentExecutable() -> String {
        var buf = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/self/exe", &buf, buf.count - 1)
        if n > 0 { return String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self) }
        return CommandLine.arguments[0]
    }
}
