import Foundation
import GGUF

extension SyntheticModel {
    /// The path of `spec`'s model in a temporary directory of this process, written on first use:
    /// the tests of several suites share one file per spec instead of each writing its own. The
    /// file is written under a unique name and renamed into place, so a concurrent caller never
    /// reads half of one.
    public static func temporaryFile(_ spec: SyntheticModelSpec) throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pipeserve-synthetic-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let path = dir.appendingPathComponent(spec.fileName).path
        if FileManager.default.fileExists(atPath: path) { return path }
        let tmp = path + ".tmp\(UInt32.random(in: 0...UInt32.max))"
        try writer(spec).write(to: tmp)
        return rename(tmp, path) == 0 ? path : tmp
    }
}

extension SyntheticModelSpec {
    /// A file name that differs whenever the spec does.
    public var fileName: String {
        "\(architecture.rawValue)-l\(layers)-e\(embedding)-h\(heads)x\(kvHeads)x\(headDim)-f\(feedForward)-c\(context)"
            + "-p\(extraPieces)-\(weightType.name)-w\(slidingWindow)-s\(seed).gguf"
    }
}
