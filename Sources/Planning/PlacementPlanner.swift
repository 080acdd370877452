/// Chooses CPUs and NUMA nodes for stages (DESIGN.md: `numa: auto` spreads stages over nodes; a
/// one-node machine degrades to plain CPU affinity). Pure: the machine's topology is an input.
public struct PlacementPlanner: Sendable {
    /// CPUs of each NUMA node (index = node). A machine without NUMA support is one node.
    public var nodes: [[Int]]

    public init(nodes: [[Int]]) { self.nodes = nodes }

    /// How stages are placed.
    public enum Mode: Sendable, Equatable {
        /// No pinning, no memory binding.
        case off
        /// Stage i on node i mod nodes (memory bound there when there are several nodes), CPUs of
        /// the node split between the stages placed on it.
        case auto
        /// Stage i on node list[i mod count].
        case nodes([Int])
    }

    public enum PlacementError: Error, CustomStringConvertible, Equatable {
        case noSuchNode(Int, available: Int)
        case emptyNodeList
        public var description: String {
            switch self {
            case let .noSuchNode(n, a): return "numa: node \(n) does not exist (this machine has \(a) node\(a == 1 ? "" : "s"): 0…\(a - 1))"
            case .emptyNodeList: return "numa: the node list is empty"
            }
        }
    }

    public struct Placement: Sendable, Equatable {
        public var cpus: [Int]
        public var numaNode: Int?
    }

    /// Placements for `stages` stages of `threads` threads each, plus notes for the log.
    public func place(stages: Int, threads: Int, mode: Mode) throws(PlacementError) -> (placements: [Placement], notes: [String]) {
        let nodeCount = max(1, nodes.count)
        var notes: [String] = []
        let assignment: [Int]
        switch mode {
        case .off:
            return (Array(repeating: Placement(cpus: [], numaNode: nil), count: stages), ["numa: off, no pinning"])
        case .auto:
            assignment = (0..<stages).map { $0 % nodeCount }
        case let .nodes(list):
            guard !list.isEmpty else { throw .emptyNodeList }
            for n in list where n < 0 || n >= nodeCount { throw .noSuchNode(n, available: nodeCount) }
            assignment = (0..<stages).map { list[$0 % list.count] }
        }
        let bindMemory = nodeCount > 1
        if !bindMemory { notes.append("numa: one node on this machine, pinning CPUs only") }
        var placements: [Placement] = []
        for (i, node) in assignment.enumerated() {
            let cpus = nodes.indices.contains(node) ? nodes[node] : []
            // The stages sharing this node divide its CPUs in order; if there are fewer CPUs than
            // threads, they wrap around (oversubscribed, noted).
            let sharing = assignment.enumerated().filter { $0.element == node }.map(\.offset)
            let rank = sharing.firstIndex(of: i) ?? 0
            var mine: [Int] = []
            // Pinned only when the node has a CPU for every thread of its stages: threads that
            // must time-share are left to the kernel, which moves a waiting thread to whichever
            // CPU frees up first (pinned, two stages' threads queued behind each other).
            if !cpus.isEmpty, sharing.count * threads <= cpus.count {
                for t in 0..<threads { mine.append(cpus[rank * threads + t]) }
            }
            placements.append(Placement(cpus: mine, numaNode: bindMemory ? node : nil))
        }
        let perNode = Dictionary(grouping: assignment, by: { $0 })
        for (node, members) in perNode.sorted(by: { $0.key < $1.key }) {
            let cpuCount = nodes.indices.contains(node) ? nodes[node].count : 0
            if members.count * threads > cpuCount {
                notes.append("numa: node \(node) has \(cpuCount) CPUs for \(members.count * threads) stage threads (oversubscribed: its stages time-share them, unpinned)")
            }
        }
        return (placements, notes)
    }
}
