// swift-tools-version: 6.0
import PackageDescription

let upcoming: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "ytauto",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "ytauto", targets: ["ytauto"]),
        .executable(name: "ytauto-admin", targets: ["ytauto-admin"]),
        .executable(name: "ytauto-bench", targets: ["ytauto-bench"]),
        .library(name: "YTAutoCore", targets: ["YTAutoCore"]),
        .library(name: "YTAutoStore", targets: ["YTAutoStore"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-crypto", "3.0.0"..<"5.0.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "5.0.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.6.0"),
        .package(url: "https://github.com/swiftlang/swift-subprocess", from: "1.0.0"),
        .package(url: "https://github.com/apple/swift-system", from: "1.5.0"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.21.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.65.0"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.21.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.0.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-auth", from: "2.0.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.0.0"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.0.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.27.0"),
    ],
    targets: [
        // The system's libsqlite3 (libsqlite3-dev), through a module map.
        .systemLibrary(
            name: "CSQLite",
            path: "Modules/CSQLite",
            pkgConfig: "sqlite3",
            providers: [.apt(["libsqlite3-dev"]), .brew(["sqlite3"])]
        ),
        // libespeak-ng's header (libespeak-ng-dev) for its types; the library is opened at run time (EspeakLibrary).
        .systemLibrary(
            name: "CEspeakNG",
            path: "Modules/CEspeakNG",
            providers: [.apt(["libespeak-ng-dev"])]
        ),
        // A shared futex word that hands SQLite's write lock from one process to the next (see WriteWake).
        .target(name: "CWriteWake"),
        // Models, errors, service protocols and the JobStore contract. No I/O libraries.
        .target(
            name: "YTAutoCore",
            dependencies: [.product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: upcoming
        ),
        // The thin SQLite wrapper, the migrator and the SQLite job store.
        .target(
            name: "YTAutoStore",
            dependencies: ["CSQLite", "CWriteWake", "YTAutoCore"],
            swiftSettings: upcoming,
            plugins: ["EmbedMigrations"]
        ),
        // The PostgreSQL job store (several hosts): the same contract as the SQLite one, on postgres-nio,
        // with its own migrations (migrations/postgres/).
        .target(
            name: "YTAutoPostgres",
            dependencies: [
                "YTAutoCore",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: upcoming,
            plugins: ["EmbedMigrations"]
        ),
        // The worker process: leasing, heartbeats, stages, cancellation and graceful shutdown.
        .target(
            name: "YTAutoWorker",
            // The store's contract (YTAutoCore) only: no engine.
            dependencies: [
                "YTAutoCore",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: upcoming
        ),
        // What the renderer and the network providers share: ffmpeg, ffprobe and espeak-ng run as
        // child processes (ToolRunner), and files written to a temporary name and renamed (Files).
        .target(
            name: "YTAutoSupport",
            dependencies: [
                "YTAutoCore",
                .product(name: "Subprocess", package: "swift-subprocess"),
                .product(name: "SystemPackage", package: "swift-system"),
            ],
            swiftSettings: upcoming
        ),
        // The offline media pipeline: script, narration, images, clips, composition, thumbnail, local publishing.
        .target(
            name: "YTAutoMedia",
            dependencies: ["YTAutoCore", "YTAutoSupport", "CEspeakNG", .product(name: "Logging", package: "swift-log")],
            swiftSettings: upcoming
        ),
        // Network providers behind the service protocols: LLMs, TTS, images, YouTube. Not the renderer.
        .target(
            name: "YTAutoProviders",
            dependencies: [
                "YTAutoCore", "YTAutoSupport",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: upcoming
        ),
        // Command wiring shared by the executables (configuration, commands, output).
        .target(
            name: "YTAutoApp",
            dependencies: [
                "YTAutoCore", "YTAutoStore", "YTAutoPostgres", "YTAutoWorker", "YTAutoSupport", "YTAutoMedia", "YTAutoProviders",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Yams", package: "Yams"),
                // The web console (`ytauto web`) and its /metrics.
                .product(name: "Hummingbird", package: "hummingbird"),
                // HTTPS for the console (`ytauto web --tls-cert --tls-key`).
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                // The console's users' passwords, stored as bcrypt hashes.
                .product(name: "HummingbirdBcrypt", package: "hummingbird-auth"),
                // The console's form tokens (an HMAC of the browser's token cookie).
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: upcoming
        ),
        .executableTarget(name: "ytauto", dependencies: ["YTAutoApp"], swiftSettings: upcoming),
        .executableTarget(name: "ytauto-admin", dependencies: ["YTAutoApp"], swiftSettings: upcoming),
        // Benchmarks and the crash-chaos run (build with -c release for figures).
        .executableTarget(
            name: "ytauto-bench",
            dependencies: [
                "YTAutoCore", "YTAutoStore", "YTAutoPostgres", "YTAutoSupport", "YTAutoMedia", "YTAutoWorker", "CSQLite",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: upcoming
        ),
        // Build-time tool: turns migrations/*.sql into a Swift source (see Sources/EmbedMigrationsPlugin).
        .executableTarget(name: "EmbedMigrationsTool"),
        .plugin(
            name: "EmbedMigrations",
            capability: .buildTool(),
            dependencies: ["EmbedMigrationsTool"],
            path: "Sources/EmbedMigrationsPlugin"
        ),
        .target(
            name: "YTAutoTestSupport",
            dependencies: [
                "YTAutoCore",
                "YTAutoSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            path: "Tests/TestSupport", swiftSettings: upcoming),
        // A SQLite VFS over the default one that fails reads as a disk's EIO does (for the store's tests).
        .target(name: "CFaultVFS", dependencies: ["CSQLite"], path: "Tests/CFaultVFS"),
        .testTarget(name: "YTAutoCoreTests", dependencies: ["YTAutoCore"], swiftSettings: upcoming),
        // The configuration loader and every command's argument parsing, in process (incl. the fuzz
        // tests); the worker in process where a test needs a stage of its own.
        .testTarget(
            name: "YTAutoAppTests",
            dependencies: ["YTAutoApp", "YTAutoCore", "YTAutoStore", "YTAutoPostgres", "YTAutoWorker", "YTAutoSupport", "YTAutoMedia", "YTAutoProviders",
                           "YTAutoTestSupport",
                           .product(name: "ArgumentParser", package: "swift-argument-parser"),
                           .product(name: "Yams", package: "Yams"),
                           .product(name: "Logging", package: "swift-log"),
                           .product(name: "ServiceLifecycle", package: "swift-service-lifecycle")],
            swiftSettings: upcoming
        ),
        .testTarget(
            name: "YTAutoStoreTests",
            dependencies: ["YTAutoStore", "YTAutoPostgres", "YTAutoCore", "CSQLite", "CFaultVFS", "YTAutoSupport", "YTAutoTestSupport",
                           .product(name: "PostgresNIO", package: "postgres-nio")],
            swiftSettings: upcoming
        ),
        .testTarget(
            name: "YTAutoMediaTests",
            dependencies: ["YTAutoMedia", "YTAutoSupport", "YTAutoCore", "YTAutoTestSupport"],
            swiftSettings: upcoming
        ),
        .testTarget(
            name: "YTAutoProvidersTests",
            dependencies: ["YTAutoProviders", "YTAutoSupport", "YTAutoMedia", "YTAutoCore", "YTAutoStore", "YTAutoTestSupport"],
            swiftSettings: upcoming
        ),
        .testTarget(
            name: "EndToEndTests",
            dependencies: ["YTAutoStore", "YTAutoPostgres", "YTAutoCore", "YTAutoSupport", "YTAutoTestSupport", "ytauto", "ytauto-admin", "ytauto-bench",
                           .product(name: "AsyncHTTPClient", package: "async-http-client"), .product(name: "NIOSSL", package: "swift-nio-ssl"),
                           .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOHTTP1", package: "swift-nio")],
            swiftSettings: upcoming
        ),
    ]
)
