import ArgumentParser
import Foundation
import Logging
import ServiceLifecycle
import UnixSignals
import YTAutoCore
import YTAutoMedia
import YTAutoProviders
import YTAutoSupport
import YTAutoWorker

extension YTAutoCommand {
    /// `ytauto run-once`: one job now, in this process, through the same store and pipeline as a worker.
    public struct RunOnce: AsyncParsableCommand {
        public static let configuration = CommandConfiguration(
            commandName: "run-once",
            abstract: "Enqueue one job for a channel and run it now, in this process, showing per-stage progress.",
            discussion: """
                It makes a real video through the media pipeline (ffmpeg, espeak-ng) and prints where the MP4 \
                and thumbnail were published. The job is a normal row of the queue (ytauto-admin show JOB tells its story afterwards); this \
                process leases it as a worker would, so SIGTERM, SIGINT or SIGHUP hand it back and a worker may finish it. \
                Exit code 0 when the job succeeded, or stopped to wait for review (a channel with review: true; \
                a worker publishes it once approved); 1 when it failed or was handed back.
                """)

        @OptionGroup public var global: GlobalOptions
        @Argument(help: "The channel's name, as in the configuration.", transform: ChannelConfig.canonicalName) public var channel: String
        @Option(help: "The video's topic (default: the channel's next topic).") public var topic: String?
        @Flag(help: "Run every stage but publish nothing.") public var dryRun = false
        @Option(parsing: .unconditional, help: "Run the diagnostic pipeline whose stages only sleep this many ms (no video is made).") public var syntheticStageMs: Int?
        @Option(help: "Log lines as human text or JSON (logs go to stderr; progress to stdout).") public var logFormat: LogFormat = .human

        public init() {}

        public func validate() throws {
            if let ms = syntheticStageMs { try OptionCheck.range(ms, ConfigLimits.syntheticStageMs, "--synthetic-stage-ms") }
            try OptionCheck.topic(topic)
        }

        public func run() async throws {
            let config = try global.loadConfig()
            let channelConfig = try config.channel(named: channel)
            // Found now, not at compose after the narration, scenes and clips were made.
            if syntheticStageMs == nil, let topic, let problem = ChannelStyle.topicProblem(topic, channel: channelConfig) {
                throw CLIError("--topic: \(problem)")
            }
            let progress = StageProgress()
            let (pipeline, store) = try await PipelineChoice.make(
                syntheticStageMs: syntheticStageMs, global: global, config: config, onProgress: { _, note in progress.note(note) })
            LogSetup.bootstrap(logFormat, level: .warning)
            let logger = Logger(label: "ytauto.run-once")
            // A minute ahead, so that no worker of this database takes it before this process
            // does (it leases it by its id, due or not); if this process dies first, a worker
            // takes it a minute later.
            let new = NewJob(channel: channel, topic: topic, options: ["source": "run-once"], priority: channelConfig.priority,
                             runAt: Date().addingTimeInterval(60), maxAttempts: 1, kind: pipeline.kind)
            let job = topic != nil ? try await store.enqueue(new).job : try await store.enqueueNextTopic(new, channel: channelConfig).result.job
            print("job \(job.id): channel \(channel), topic \"\(job.topic ?? "-")\"")
            fflush(nil)
            var workerConfig = QueueWorkerConfiguration()
            workerConfig.dryRun = dryRun
            workerConfig.observer = { progress.handle($0) }
            let worker = makeWorker(store: store, pipeline: pipeline, configuration: workerConfig, logger: logger)
            let runner = OneJob(worker: worker, jobID: job.id)
            let group = ServiceGroup(configuration: .init(
                services: [.init(service: runner, successTerminationBehavior: .gracefullyShutdownGroup)],
                gracefulShutdownSignals: SecondSignal.graceful, logger: logger))
            try await group.run()
            progress.finish()
            guard let ended = runner.result.value else { throw CLIError("job \(job.id) did not run") }
            switch ended.state {
            case .succeeded:
                print("job \(ended.id) succeeded")
                if let media = pipeline as? MediaPipeline {
                    let stages = try await store.stages(jobID: ended.id)
                    let publish = stages.first(where: { $0.stage == Stage.publish.rawValue })
                    if publish?.state == .succeeded, let id = publish?.notes["video_id"] {
                        print("published to YouTube: https://youtu.be/\(id)")
                    } else if publish?.state == .succeeded {
                        let folder = media.publishFolder(ended)
                        print("video:     \(folder.appending(path: "video.mp4").path)")
                        print("thumbnail: \(folder.appending(path: "thumbnail.jpg").path)")
                        print("metadata:  \(folder.appending(path: "metadata.json").path)")
                    } else if let work = stages.first(where: { $0.stage == Stage.compose.rawValue })?.artifacts.first {
                        print("video (dry run, not published): \(work.path)")
                    }
                }
            case .review:
                // Not a failure: the channel asks for a person's look before anything is published.
                print("job \(ended.id) waits for review before publishing (channel \(channel) has review: true)")
                if let work = try await store.stages(jobID: ended.id).first(where: { $0.stage == Stage.compose.rawValue })?.artifacts.first {
                    print("video (not published yet): \(work.path)")
                }
                print("approve it with `ytauto-admin approve \(ended.id)` (a worker then publishes it), or reject it with `ytauto-admin reject \(ended.id) --reason TEXT`")
            case .queued:
                // A worker takes it from here, with the channel's attempts (one was for the operator watching).
                try await store.allowAttempts(jobID: ended.id, atLeast: channelConfig.maxAttempts)
                print("job \(ended.id) was handed back to the queue (interrupted); a worker will finish it, with up to \(channelConfig.maxAttempts) attempts")
                throw ExitCode(1)
            case .failed:
                // One attempt: the operator is watching, and a retry would come minutes later, after its backoff.
                throw CLIError("job \(ended.id) failed: \(ended.lastErrorCode ?? "") \(ended.lastErrorMessage ?? "")\n"
                    + "run-once gives a job one attempt and no automatic retry; `ytauto-admin retry \(ended.id)` queues it again for a worker "
                    + "(with its finished stages kept)")
            default:
                throw CLIError("job \(ended.id) ended \(ended.state.rawValue): \(ended.lastErrorCode ?? "") \(ended.lastErrorMessage ?? "")")
            }
        }
    }
}

/// A worker that can run one given job (``QueueWorker/runOne(jobID:)``), whatever its store.
protocol OneJobRunner: Sendable {
    func runOne(jobID: Int64) async throws -> Job
}

extension QueueWorker: OneJobRunner {}

/// A worker over `store`, whichever engine it is (the store arrives as `any OperatorStore`).
func makeWorker<Store: WorkerStore>(
    store: Store, pipeline: any StagedPipeline, configuration: QueueWorkerConfiguration, logger: Logger
) -> any Service & OneJobRunner {
    QueueWorker(store: store, pipeline: pipeline, configuration: configuration, logger: logger)
}

/// Runs one job as a service, so the service group's signal handling covers it.
final class OneJob: Service, Sendable {
    let worker: any OneJobRunner
    let jobID: Int64
    /// Set once `run()` has run the job; read after it ended.
    let result = Locked<Job?>(nil)

    init(worker: any OneJobRunner, jobID: Int64) {
        self.worker = worker
        self.jobID = jobID
    }

    func run() async throws {
        result.value = try await worker.runOne(jobID: jobID)
    }
}

/// Which pipeline a worker runs: the media pipeline, or the diagnostic one on request.
enum PipelineChoice {
    /// The credentials the configuration's providers read (`providers.credentials_file`, beside the
    /// configuration, and the environment); a file others can read is refused.
    static func providerCredentials(_ config: AppConfig, global: GlobalOptions) throws -> Credentials {
        let file = URL(fileURLWithPath: config.providers.credentialsFile, relativeTo: global.configDirectory).standardizedFileURL.path
        if config.providers.credentialsFileNamed, !FileManager.default.fileExists(atPath: file) {
            throw CLIError("the credentials file \(file) (providers.credentials_file in \(global.configPath)) does not exist: "
                + "create it (mode 0600), or remove the key to take every key from the environment")
        }
        do {
            return try Credentials.load(file: file)
        } catch let error as CredentialsError {
            throw CLIError(error.description)
        }
    }

    /// Checks what the media pipeline needs before anything is written: the configuration, the
    /// binaries, the credentials file's mode. Then opens the store and builds the pipeline.
    static func make(
        syntheticStageMs: Int?, syntheticArtifacts: URL? = nil, global: GlobalOptions, config preloaded: AppConfig? = nil,
        onProgress: (@Sendable (Int64, String) -> Void)? = nil
    ) async throws -> (pipeline: any StagedPipeline, store: any OperatorStore) {
        if let ms = syntheticStageMs {
            return (SyntheticPipeline(stageDuration: .milliseconds(ms), artifactDirectory: syntheticArtifacts), try await global.openStore())
        }
        let config = try preloaded ?? global.loadConfig()
        var voices: [String] = []
        for channel in config.channels where channel.services.tts.contains(.espeak) {
            if let problem = await EspeakTTS.voiceProblem(channel.voiceID, language: channel.spokenLanguage) {
                voices.append("channel \(channel.name): \(problem)")
            }
        }
        if !voices.isEmpty {
            throw CLIError("configuration \(global.configPath) names voices this machine cannot speak with:\n" + voices.map { "  - \($0)" }.joined(separator: "\n"))
        }
        let topics = config.channels.flatMap { channel in channel.topics.compactMap { ChannelStyle.topicProblem($0, channel: channel) } }
        if !topics.isEmpty {
            throw CLIError("configuration \(global.configPath) has topics its channels cannot draw:\n" + topics.map { "  - \($0)" }.joined(separator: "\n"))
        }
        let tools: ToolRunner
        do {
            tools = try ToolRunner()
        } catch let error as MissingToolError {
            throw CLIError(error.message)
        }
        let credentials = try providerCredentials(config, global: global)
        let cwd = URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
        // Found now rather than by the first job's first stage, as a "file couldn't be saved".
        for (key, folder) in [("work_dir", config.workDirectory), ("output_dir", config.outputDirectory)] {
            if let problem = Files.folderProblem(URL(fileURLWithPath: folder, relativeTo: cwd).standardizedFileURL.path) {
                throw CLIError("\(key) \(folder) in \(global.configPath) cannot hold the jobs' files: \(problem)")
            }
        }
        let store = try await global.openStore()
        let work = URL(fileURLWithPath: config.workDirectory, relativeTo: cwd).standardizedFileURL
        let services = ProviderServices(tools: tools, config: config.providers, credentials: credentials, ledger: store,
                                        configDirectory: global.configDirectory, footageLedger: store, stockCache: StockCache(workDirectory: work).folder)
        let pipeline = MediaPipeline(
            channels: config.channels,
            workDirectory: work,
            outputDirectory: URL(fileURLWithPath: config.outputDirectory, relativeTo: cwd).standardizedFileURL,
            tools: tools, services: services, onProgress: onProgress, history: store)
        return (pipeline, store)
    }
}
