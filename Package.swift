// swift-tools-version:6.0
import PackageDescription

// Optimisation flags for the C kernels: they stay -O3 even in debug builds so that
// `swift test` (debug) runs the real model at usable speed. No -march: the fast paths
// carry their own target attributes and are chosen at run time from CPUID.
let cKernelFlags: [String] = ["-O3", "-fno-math-errno", "-Wall"]

let package = Package(
    name: "pipeserve",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "pipeserve", targets: ["pipeserve"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.0.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.9.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.6.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.80.0"),
        .package(url: "https://github.com/apple/swift-nio-extras", from: "1.24.0"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.0.0"),
    ],
    targets: [
        .target(name: "ServingTypes"),
        // Structured output: JSON Schema, JSON object and GBNF grammars compiled to a byte-level
        // pushdown automaton, and token masks over a vocabulary. Pure: no I/O, no logging.
        .target(name: "Constraints", dependencies: ["ServingTypes"]),
        .target(name: "GGUF"),
        .target(
            name: "CKernels",
            cSettings: [.unsafeFlags(cKernelFlags)],
            linkerSettings: [.linkedLibrary("pthread"), .linkedLibrary("m")]
        ),
        .target(name: "Kernels", dependencies: ["CKernels"]),
        .target(name: "Tokenization", dependencies: ["GGUF"]),
        .target(name: "CPlatform", linkerSettings: [.linkedLibrary("numa"), .linkedLibrary("pthread")]),
        .target(name: "WireProtocol", dependencies: ["ServingTypes", "GGUF"]),
        .target(name: "Scheduling", dependencies: ["ServingTypes"]),
        .target(name: "SystemdNotify"),
        .target(name: "ServeConfig", dependencies: [.product(name: "Yams", package: "Yams")]),
        .target(
            name: "OpenAIServer",
            dependencies: [
                "ServingTypes",
                "Constraints",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
            ]
        ),
        .target(
            name: "ModelRuntime",
            dependencies: ["GGUF", "Kernels", "ServingTypes", .product(name: "Logging", package: "swift-log")]
        ),
        .target(name: "SyntheticModels", dependencies: ["GGUF", "ModelRuntime"]),
        .target(name: "Planning", dependencies: ["GGUF", "ModelRuntime"]),
        .target(
            name: "StageWorker",
            dependencies: ["ModelRuntime", "Kernels", "WireProtocol", "CPlatform", "GGUF", "ServingTypes", "Constraints", "Tokenization",
                           .product(name: "Logging", package: "swift-log")]
        ),
        .target(
            name: "Coordinator",
            dependencies: ["Scheduling", "WireProtocol", "GGUF", "Tokenization", "ServingTypes", .product(name: "Logging", package: "swift-log")]
        ),
        // The stage code on threads behind the engine's ring seam: for tests of engine, recovery and reload.
        .target(
            name: "InProcessRing",
            dependencies: ["Coordinator", "StageWorker", "WireProtocol", "GGUF", "CPlatform", .product(name: "Logging", package: "swift-log")]
        ),
        .target(
            name: "Serving",
            dependencies: [
                "ServingTypes", "GGUF", "ModelRuntime", "Tokenization", "WireProtocol", "StageWorker", "Coordinator", "CPlatform",
                "Scheduling", "ServeConfig", "OpenAIServer", "SystemdNotify", "SyntheticModels", "Planning",
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "pipeserve",
            dependencies: [
                "Serving", "ServingTypes", "GGUF", "ModelRuntime", "Tokenization", "WireProtocol", "StageWorker", "Coordinator", "CPlatform", "Scheduling", "ServeConfig", "OpenAIServer", "SystemdNotify",
                "SyntheticModels", "Planning", "Constraints",
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Mask timings on a real vocabulary: `swift run -c release constraints-bench MODEL.gguf`.
        .executableTarget(name: "constraints-bench", dependencies: ["Constraints", "Tokenization", "GGUF"]),
        .testTarget(name: "ServingTypesTests", dependencies: ["ServingTypes"]),
        .testTarget(name: "ConstraintsTests", dependencies: ["Constraints", "ServingTypes", "Tokenization", "GGUF"]),
        .testTarget(name: "ServingTests", dependencies: ["Serving", "ServeConfig", "Coordinator", "OpenAIServer", "ServingTypes", "GGUF", "Tokenization"]),
        .testTarget(name: "GGUFTests", dependencies: ["GGUF"]),
        .testTarget(name: "KernelsTests", dependencies: ["Kernels", "CKernels"]),
        .testTarget(name: "TokenizationTests", dependencies: ["Tokenization", "GGUF"]),
        .testTarget(name: "ModelRuntimeTests", dependencies: ["ServingTypes", "ModelRuntime", "GGUF", "Tokenization", "Kernels", "SyntheticModels"],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "WireProtocolTests", dependencies: ["ServingTypes", "WireProtocol"]),
        .testTarget(name: "SchedulingTests", dependencies: ["ServingTypes", "Scheduling"]),
        .testTarget(name: "SystemdNotifyTests", dependencies: ["SystemdNotify"]),
        .testTarget(name: "ServeConfigTests", dependencies: ["ServeConfig"]),
        .testTarget(
            name: "OpenAIServerTests",
            dependencies: ["ServingTypes",
                "OpenAIServer",
                "Constraints",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
            ],
            exclude: ["Python"]
        ),
        .testTarget(name: "StageWorkerTests", dependencies: ["ServingTypes", "StageWorker", "ModelRuntime", "WireProtocol", "GGUF", "SyntheticModels",
                                                             "Constraints", "Tokenization"]),
        .testTarget(name: "CoordinatorTests", dependencies: ["ServingTypes", "Coordinator", "InProcessRing", "WireProtocol", "ModelRuntime", "GGUF", "Scheduling", "Tokenization", "SyntheticModels", "Constraints"]),
        .testTarget(name: "CLITests", dependencies: ["ServingTypes", "GGUF", "SyntheticModels"], exclude: ["Python"]),
        .testTarget(name: "SyntheticModelsTests", dependencies: ["SyntheticModels", "GGUF", "Kernels"]),
        .testTarget(name: "PlanningTests", dependencies: ["Planning", "SyntheticModels"]),
    ],
    swiftLanguageModes: [.v6]
)

// libFuzzer harnesses (Fuzz/, driven by scripts/fuzz-libfuzzer). They exist only when
// PIPESERVE_LIBFUZZER is set, so `swift build`, `swift test` and CI never see them; they are
// built into their own scratch path with -sanitize=fuzzer,address -parse-as-library.
if Context.environment["PIPESERVE_LIBFUZZER"] != nil {
    package.targets += [
        .target(name: "FuzzSupport", path: "Fuzz/Support"),
        .executableTarget(name: "FuzzWireProtocol", dependencies: ["WireProtocol", "FuzzSupport"], path: "Fuzz/WireProtocol"),
        .executableTarget(name: "FuzzGGUF", dependencies: ["GGUF", "Tokenization", "FuzzSupport"], path: "Fuzz/GGUF"),
        .executableTarget(name: "FuzzTokenization", dependencies: ["Tokenization", "GGUF", "FuzzSupport"], path: "Fuzz/Tokenization"),
    ]
    package.products += ["FuzzWireProtocol", "FuzzGGUF", "FuzzTokenization"].map { .executable(name: $0, targets: [$0]) }
}
