/// A prefix-cache block as a batch names it: the coordinator's name for it and the positions
/// [startPosition, startPosition + count) whose KV it holds.
public struct KVBlockRef: Sendable, Equatable, Hashable {
    public var name: UInt64
    public var startPosition: Int
    public var count: Int

    public init(name: UInt64, startPosition: Int, count: Int) {
        self.name = name
        self.startPosition = startPosition
        self.count = count
    }
}
