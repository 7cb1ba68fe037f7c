import ArgumentParser
import Dispatch
import Foundation
import Logging
import ServiceLifecycle
import Synchronization
import UnixSignals
import YTAutoCore
import YTAutoWorker

extension YTAutoCommand {
    /// `ytauto worker`: the process that runs jobs.
    public struct Worker: AsyncParsableCommand {
        public static let configuration = CommandConfiguration(
            abstract: "Lease and run jobs until SIGTERM, SIGINT or SIGHUP.",
            discussion: """
                Each job runs through the media pipeline (ffmpeg, espeak-ng; the worker refuses to start, naming \
                the package, if one is missing) and is published into output_dir. --synthetic-stage-ms N runs the \
                DIAGNOSTIC pipeline instead: every stage only sleeps N ms and no video is made; it is for load and \
                chaos tests. On SIGTERM, SIGINT or SIGHUP (a closed terminal) it stops leasing, lets running stages finish within --grace, hands the rest back \
                without spending an attempt, and exits 0. A second signal exits at once.
                """)

        @OptionGroup public var global: GlobalOptions
        @Option(parsing: .unconditional, help: "Jobs run at once.") public var concurrency = 2
        @Option(name: .customLong("channel"), help: "Only jobs of this channel (repeatable).", transform: ChannelConfig.canonicalName) public var channels: [String] = []
        @Option(help: "Time running stages get to finish after a shutdown signal: 30s, 2m, 500ms.") public var grace = "30s"
        @Option(help: "The longest one stage may run before it is stopped and its attempt fails stage.timeout (retried): 6h, 90m.")
        public var stageTimeout = "6h"
        @Flag(help: "Run every stage but publish nothing (publish is recorded as skipped).") public var dryRun = false
        @Option(parsing: .unconditional, help: "Run the diagnostic pipeline whose stages only sleep this many ms (no video is made).") public var syntheticStageMs: Int?
        @Option(help: ArgumentHelp("With --synthetic-stage-ms: each stage also writes a small checksummed file under this folder (for chaos runs).", visibility: .hidden))
        public var syntheticArtifacts: String?
        @Option(parsing: .unconditional, help: "Lease length in seconds; heartbeats renew it every third of it.") public var leaseSeconds = 30
        @Option(help: "Log lines as human text or JSON.") public var logFormat: LogFormat = .human

        public init() {}

        public func validate() throws {
            try OptionCheck.range(concurrency, ConfigLimits.concurrency, "--concurrency")
            _ = try OptionCheck.duration(grace, "--grace", allowed: ConfigLimits.grace, milliseconds: true)
            _ = try OptionCheck.duration(stageTimeout, "--stage-timeout", allowed: ConfigLimits.stageTimeout)
            if let ms = syntheticStageMs { try OptionCheck.range(ms, ConfigLimits.syntheticStageMs, "--synthetic-stage-ms") }
            try OptionCheck.range(leaseSeconds, ConfigLimits.leaseSeconds, "--lease-seconds")
        }

        public func run() async throws {
            // A --channel the configuration does not have would lease nothing, for ever, without a
            // word. A diagnostic worker's channels are whatever its jobs were enqueued with.
            var appConfig: AppConfig?
            if syntheticStageMs == nil, !channels.isEmpty {
                let loaded = try global.loadConfig()
                let names = loaded.channels.map(\.name)
                for channel in channels where !names.contains(channel) {
                    throw CLIError("--channel \(channel): no channel named '\(channel)' in the configuration (channels: \(names.joined(separator: ", ")))")
                }
                appConfig = loaded
            }
            let (pipeline, store) = try await PipelineChoice.make(
                syntheticStageMs: syntheticStageMs, syntheticArtifacts: syntheticArtifacts.map { URL(fileURLWithPath: $0) }, global: global,
                config: appConfig)
            LogSetup.bootstrap(logFormat)
            let logger = Logger(label: "ytauto.worker")
            if let stageMS = syntheticStageMs {
                logger.warning("running the DIAGNOSTIC pipeline: every stage only sleeps \(stageMS) ms; no video is made")
                // Its channels come from no configuration: one that no job has (a typo) is said,
                // not waited on in silence.
                let known = Set(try await store.stats().counts.keys)
                for channel in channels where !known.contains(channel) {
                    let others = known.isEmpty ? "" : "; channels with jobs: \(known.sorted().joined(separator: ", "))"
                    logger.warning("--channel \(channel): no job of that channel in the database yet; this diagnostic worker waits for one (`ytauto enqueue \(channel) --synthetic`)\(others)")
                }
            }
            var config = QueueWorkerConfiguration()
            config.concurrency = concurrency
            config.channels = channels.isEmpty ? nil : channels
            config.grace = try OptionCheck.duration(grace, "--grace", allowed: ConfigLimits.grace, milliseconds: true)
            config.stageTimeout = try OptionCheck.duration(stageTimeout, "--stage-timeout", allowed: ConfigLimits.stageTimeout)
            config.leaseDuration = .seconds(leaseSeconds)
            config.heartbeatInterval = .seconds(Double(leaseSeconds) / 3)
            config.dryRun = dryRun
            let worker = makeWorker(store: store, pipeline: pipeline, configuration: config, logger: logger)
            let secondSignal = SecondSignal.install()
            // The media pipeline runs on the configuration as it was at start: an edit is said, not taken.
            let watch: [any Service] = syntheticStageMs == nil ? [ConfigWatch(path: global.configPath, logger: logger)] : []
            let group = ServiceGroup(services: [worker] + watch, gracefulShutdownSignals: SecondSignal.graceful, logger: logger)
            try await group.run()
            withExtendedLifetime(secondSignal) {}
        }
    }
}

/// Exits at once on the second SIGTERM, SIGINT or SIGHUP; the first one is swift-service-lifecycle's
/// graceful shutdown. Dead-worker detection then frees the jobs (the lock file is released by the kernel).
final class SecondSignal: @unchecked Sendable {
    /// The signals that stop a worker, the scheduler or `run-once` gracefully. SIGHUP among them:
    /// a terminal closed under a foreground worker (an ssh session dropped) hands its jobs back
    /// as SIGTERM would, where the default action killed it like a crash and spent their attempts.
    static let graceful: [UnixSignal] = [.sigterm, .sigint, .sighup]

    // `@unchecked` is safe: `sources` is immutable and only kept alive here, never used after install.
    private let sources: [any DispatchSourceSignal]

    private init(sources: [any DispatchSourceSignal]) { self.sources = sources }

    static func install() -> SecondSignal {
        let counter = Counter()
        let sources = [SIGTERM, SIGINT, SIGHUP].map { sig -> any DispatchSourceSignal in
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler {
                if counter.increment() >= 2 {
                    FileHandle.standardError.write(Data("second signal: exiting at once\n".utf8))
                    _exit(128 + sig)
                }
            }
            source.resume()
            return source
        }
        return SecondSignal(sources: sources)
    }

    final class Counter: Sendable {
        private let value = Atomic(0)
        func increment() -> Int { value.add(1, ordering: .relaxed).newValue }
    }
}
