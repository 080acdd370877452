import GGUF

extension ModelIdentity {
    /// The identity of a model file: its size and a hash of its header and metadata. Computed this
    /// one way by the coordinator and by every stage, so that a ring only links up on one file.
    public init(file: GGUFFile) {
        self.init(fileSize: UInt64(file.fileSize), metadataHash: Self.fnv1a64(file.headerBytes))
    }
}
