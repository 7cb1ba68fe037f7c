import ArgumentParser
import Foundation
import Logging
import ServiceLifecycle
import UnixSignals
import YTAutoCore
import YTAutoStore
import YTAutoWorker

extension YTAutoCommand {
    /// `ytauto run-once`: one job now, in this process, through the same store and pipeline as a worker.
    public struct RunOnce: AsyncParsableCommand {
        public static let configuration = CommandConfiguration(
            commandName: "run-once",
            abstract: "Enqueue one job for a channel and run it now, in this process, showing per-stage progress.",
            discussion: """
                The job is a normal row of the queue (ytauto-admin show JOB tells its story afterwards); this \
                process leases it as a worker would, so SIGTERM/SIGINT hand it back and a worker may finish it. \
                Exit code 0 when the job succeeded, 1 otherwise.
                """)

        @OptionGroup public var global: GlobalOptions
        @Argument(help: "The channel's name, as in the configuration.") public var channel: String
        @Option(help: "The video's topic (default: the channel's next topic).") public var topic: String?
        @Flag(help: "Run every stage but publish nothing.") public var dryRun = false
        @Option(help: "Run the diagnostic pipeline whose stages only sleep this many ms (no video is made).") public var syntheticStageMs: Int?
        @Option(help: "Log lines as human text or JSON (logs go to stderr; progress to stdout).") public var logFormat: LogFormat = .human

        public init() {}

        public func run() async throws {
            let config = try global.loadConfig()
            let channelConfig = try config.channel(named: channel)
            let pipeline = try PipelineChoice.make(syntheticStageMs: syntheticStageMs, config: { config })
            LogSetup.bootstrap(logFormat, level: .warning)
            let logger = Logger(label: "ytauto.run-once")
            let store = try global.openStore()
            let chosen: String
            if let topic { chosen = topic } else { chosen = try await store.suggestTopic(for: channelConfig).topic }
            let job = try await store.enqueue(NewJob(
                channel: channel, topic: chosen, options: ["source": "run-once"], priority: channelConfig.priority,
                maxAttempts: 1)).job
            print("job \(job.id): channel \(channel), topic \"\(chosen)\"")
            fflush(nil)
            let progress = StageProgress()
            var workerConfig = QueueWorker.Configuration()
            workerConfig.dryRun = dryRun
            workerConfig.observer = { progress.handle($0) }
            let worker = QueueWorker(store: store, pipeline: pipeline, configuration: workerConfig, logger: logger)
            let runner = OneJob(worker: worker, jobID: job.id)
            let group = ServiceGroup(configuration: .init(
                services: [.init(service: runner, successTerminationBehavior: .gracefullyShutdownGroup)],
                gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
            try await group.run()
            progress.finish()
            guard let ended = runner.result.value else { throw CLIError("job \(job.id) did not run") }
            switch ended.state {
            case .succeeded:
                print("job \(ended.id) succeeded")
            case .queued:
                print("job \(ended.id) was handed back to the queue (interrupted); a worker will finish it")
                throw ExitCode(1)
            default:
                throw CLIError("job \(ended.id) ended \(ended.state.rawValue): \(ended.lastErrorCode ?? "") \(ended.lastErrorMessage ?? "")")
            }
        }
    }
}

/// Runs one job as a service, so the service group's signal handling covers it.
final class OneJob: Service, Sendable {
    let worker: QueueWorker
    let jobID: Int64
    let result = Box<Job>()

    init(worker: QueueWorker, jobID: Int64) {
        self.worker = worker
        self.jobID = jobID
    }

    func run() async throws {
        result.value = try await worker.runOne(jobID: jobID)
    }
}

/// A value set once by one task and read after it ended.
final class Box<T: Sendable>: @unchecked Sendable {
    // `@unchecked` is safe: `stored` is only touched under `lock`.
    private let lock = NSLock()
    private var stored: T?
    var value: T? {
        get { lock.withLock { stored } }
        set { lock.withLock { stored = newValue } }
    }
}

/// Which pipeline a worker runs.
enum PipelineChoice {
    /// `config` is read only when the real pipeline needs it.
    static func make(syntheticStageMs: Int?, config: () throws -> AppConfig) throws -> any StagedPipeline {
        guard let ms = syntheticStageMs else {
            throw CLIError("""
                the media pipeline is not built yet, so this cannot make videos; \
                it refuses to start rather than fake one. For load and chaos tests run the diagnostic \
                pipeline with --synthetic-stage-ms N.
                """)
        }
        return SyntheticPipeline(stageDuration: .milliseconds(ms))
    }
}
