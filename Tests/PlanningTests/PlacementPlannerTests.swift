import Testing
@testable import Planning

@Suite struct PlacementPlannerTests {
    @Test func oneNodeMachinePinsCPUsOnly() throws {
        let p = PlacementPlanner(nodes: [[0, 1]])
        let (placements, notes) = try p.place(stages: 2, threads: 1, mode: .auto)
        #expect(placements == [.init(cpus: [0], numaNode: nil), .init(cpus: [1], numaNode: nil)])
        #expect(notes.contains { $0.contains("one node") })
    }

    @Test func twoNodesSpreadStagesAndBindMemory() throws {
        let p = PlacementPlanner(nodes: [[0, 1, 2, 3], [4, 5, 6, 7]])
        let (placements, _) = try p.place(stages: 4, threads: 2, mode: .auto)
        #expect(placements.map(\.numaNode) == [0, 1, 0, 1])
        #expect(placements.map(\.cpus) == [[0, 1], [4, 5], [2, 3], [6, 7]])
    }

    @Test func explicitNodesAndOversubscription() throws {
        let p = PlacementPlanner(nodes: [[0, 1], [2, 3]])
        let (placements, notes) = try p.place(stages: 3, threads: 1, mode: .nodes([1]))
        #expect(placements.map(\.numaNode) == [1, 1, 1])
        // Three stages on two CPUs time-share them: unpinned (pinned, they would queue behind each
        // other on one CPU while the other idles), memory still on the node.
        #expect(placements.map(\.cpus) == [[], [], []])
        #expect(notes.contains { $0.contains("oversubscribed") })
        #expect(throws: PlacementPlanner.PlacementError.noSuchNode(5, available: 2)) { try p.place(stages: 2, threads: 1, mode: .nodes([0, 5])) }
        #expect(throws: PlacementPlanner.PlacementError.emptyNodeList) { try p.place(stages: 2, threads: 1, mode: .nodes([])) }
    }

    @Test func stagesThatTimeShareTheOnlyNodeAreNotPinned() throws {
        let (shared, _) = try PlacementPlanner(nodes: [[0, 1]]).place(stages: 2, threads: 2, mode: .auto)
        #expect(shared.map(\.cpus) == [[], []])
        let (single, _) = try PlacementPlanner(nodes: [[0, 1]]).place(stages: 1, threads: 2, mode: .auto)
        #expect(single.map(\.cpus) == [[0, 1]])
    }

    @Test func offLeavesEverythingAlone() throws {
        let (placements, _) = try PlacementPlanner(nodes: [[0, 1]]).place(stages: 3, threads: 2, mode: .off)
        #expect(placements.allSatisfy { $0.cpus.isEmpty && $0.numaNode == nil })
    }
}
