import Testing
@testable import ModelRuntime

@Suite struct PartitionPlannerTests {
    func planner(_ layers: [Int], head: Int) -> PartitionPlanner {
        PartitionPlanner(layerParameters: layers.map { _ in 0 }, layerBytes: layers, headParameters: 0, headBytes: head)
    }

    /// Every contiguous split of n layers into s non-empty stages.
    func allSplits(_ n: Int, _ s: Int) -> [[Int]] {
        if s == 1 { return [[n]] }
        return (1...(n - s + 1)).flatMap { first in allSplits(n - first, s - 1).map { [first] + $0 } }
    }

    @Test func balancedIsOptimalAgainstBruteForce() throws {
        var rng = SplitMix64(seed: 9)
        for _ in 0..<40 {
            let n = Int(rng.next() % 9) + 2
            let layers = (0..<n).map { _ in Int(rng.next() % 1000) + 1 }
            let head = Int(rng.next() % 3000)
            let p = planner(layers, head: head)
            for s in 1...min(n, 5) {
                let best = try p.balanced(stages: s)
                let brute = try allSplits(n, s).map { try p.plan(counts: $0).stages.map(\.cost).max()! }.min()!
                #expect(abs(best.stages.map(\.cost).max()! - brute) < 1e-12, "layers \(layers) head \(head) stages \(s)")
                #expect(best.layerCounts.reduce(0, +) == n && best.layerCounts.allSatisfy { $0 >= 1 })
            }
        }
    }

    @Test func heavyHeadGetsFewLayers() throws {
        let p = planner(Array(repeating: 100, count: 18), head: 2500)
        let plan = try p.balanced(stages: 2)
        #expect(plan.layerCounts == [17, 1])
        #expect(plan.stages[0].hasEmbedding && plan.stages[1].hasHead)
        #expect(plan.efficiency < 1 && plan.efficiency > 0.5)
    }

    @Test func equalLayersSplitEvenly() throws {
        let plan = try planner(Array(repeating: 10, count: 12), head: 0).balanced(stages: 4)
        #expect(plan.layerCounts == [3, 3, 3, 3])
        #expect(abs(plan.efficiency - 1) < 1e-12)
        #expect(plan.shares.allSatisfy { abs($0 - 0.25) < 1e-12 })
    }

    @Test func explicitCountsAreValidated() {
        let p = planner(Array(repeating: 10, count: 6), head: 5)
        #expect(throws: PartitionError.countsLengthMismatch(counts: [3, 3], stages: 3)) { try p.plan(counts: [3, 3], stages: 3) }
        #expect(throws: PartitionError.countsSumMismatch(counts: [3, 2], layers: 6)) { try p.plan(counts: [3, 2]) }
        #expect(throws: PartitionError.emptyStage(counts: [6, 0], stage: 1)) { try p.plan(counts: [6, 0]) }
        #expect(throws: PartitionError.badStageCount(stages: 7, layers: 6)) { try p.balanced(stages: 7) }
        #expect(throws: PartitionError.badStageCount(stages: 0, layers: 6)) { try p.balanced(stages: 0) }
    }
}
