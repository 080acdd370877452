// Shared by the libFuzzer harnesses: reporting a finding, writing the seed corpus, stderr.
#if canImport(Glibc)
import Glibc
#endif

/// Aborts with `message` when an invariant fails: the harness's way of reporting a finding.
public func require(_ condition: Bool, _ message: @autoclosure () -> String) {
    guard !condition else { return }
    printError("fuzz invariant violated: \(message())")
    abort()
}

/// With PIPESERVE_FUZZ_WRITE_SEEDS=<dir>, writes the seed corpus there and exits.
public func writeSeedsIfAsked(_ seeds: [[UInt8]]) {
    guard let dir = getenv("PIPESERVE_FUZZ_WRITE_SEEDS").map({ String(cString: $0) }) else { return }
    for (i, seed) in seeds.enumerated() {
        let path = "\(dir)/seed-\(i)"
        guard let f = fopen(path, "wb") else {
            printError("cannot write \(path)")
            exit(1)
        }
        _ = seed.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, f) }
        fclose(f)
    }
    printError("wrote \(seeds.count) seeds to \(dir)")
    exit(0)
}

/// Writes a line to standard error (`fputs` to `stderr` is not concurrency-safe in Swift 6).
public func printError(_ line: String) {
    var text = line + "\n"
    text.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
}

/// libFuzzer's driver: SwiftPM names an executable target's entry point after the module (and
/// defines `main` as that symbol), so each harness's `main` starts the driver itself.
@_silgen_name("LLVMFuzzerRunDriver")
func runFuzzerDriver(_ argc: UnsafeMutablePointer<Int32>,
                     _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
                     _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32) -> Int32

/// Runs libFuzzer with the process's arguments and `testOneInput`, then exits with its status.
public func runFuzzer(_ testOneInput: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32) -> Never {
    var argc = CommandLine.argc
    var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
    exit(runFuzzerDriver(&argc, &argv, testOneInput))
}
