import ArgumentParser
import Foundation
import YTAutoCore
import YTAutoMedia
import YTAutoProviders
import YTAutoSupport

/// `ytauto`: set up, feed and watch the queue.
public struct YTAutoCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "ytauto",
        abstract: "Runs faceless video channels on a persistent job queue (SQLite, or PostgreSQL for several hosts).",
        subcommands: [Init.self, Status.self, Enqueue.self, RunOnce.self, Worker.self, Scheduler.self, Web.self, Auth.self])

    public init() {}

    /// `ytauto init`: the database and a sample configuration.
    public struct Init: AsyncParsableCommand {
        public static let configuration = CommandConfiguration(
            abstract: "Create the database and a sample configuration (channels horror, facts, finance and a shorts channel of each).",
            discussion: "An existing configuration file is kept unless --force is given; the database is only migrated.")

        @OptionGroup public var global: GlobalOptions
        @Flag(help: "Overwrite an existing configuration file.") public var force = false

        public init() {}

        public func run() async throws {
            let path = global.configPath
            let keep = FileManager.default.fileExists(atPath: path) && !force
            // The configuration is checked before the database is created: init with a broken
            // configuration creates nothing (it says what is wrong; --force replaces the file).
            if keep { _ = try AppConfig.load(path: path) }
            let text = try AppConfig.sample.yaml()
            _ = try AppConfig.parse(text)
            // Likewise a configuration that could not be written: its folder is looked at first.
            if !keep {
                var isFolder: ObjCBool = false
                if FileManager.default.fileExists(atPath: path, isDirectory: &isFolder), isFolder.boolValue {
                    throw CLIError("cannot write the configuration \(path): it is a folder; give a file's path (such as "
                        + "\(URL(fileURLWithPath: path).appending(path: "ytauto.yaml").path)); nothing was created")
                }
                let folder = URL(fileURLWithPath: path).deletingLastPathComponent().path
                guard FileManager.default.fileExists(atPath: folder, isDirectory: &isFolder), isFolder.boolValue else {
                    throw CLIError("cannot write the configuration \(path): the folder \(folder) does not exist (create it, or choose another --config); nothing was created")
                }
                guard access(folder, W_OK) == 0 else {
                    throw CLIError("cannot write the configuration \(path): the folder \(folder) is not writable; nothing was created")
                }
            }
            // A SQLite file this init makes and cannot finish (a full disk) is removed with the
            // files beside it: left, it would read later as a database "at schema version 0".
            let newFile = global.postgresURL == nil && !FileManager.default.fileExists(atPath: global.databasePath) ? global.databasePath : nil
            let version: Int
            do {
                version = try await global.createStore().schemaVersion()
            } catch {
                if let newFile {
                    for suffix in ["", "-wal", "-shm", "-journal", "-wake"] { unlink(newFile + suffix) }
                }
                throw error
            }
            print("database \(global.databaseName) ready at schema version \(version)")
            if keep {
                print("configuration \(path) exists and is valid; kept (use --force to overwrite)")
                return
            }
            do {
                try text.write(toFile: path, atomically: true, encoding: .utf8)
            } catch {
                throw CLIError("cannot write the configuration \(path): \(error.localizedDescription)")
            }
            print("wrote \(path) with channels \(AppConfig.sample.channels.map(\.name).joined(separator: ", "))")
        }
    }

    /// `ytauto status`: the queue at a glance.
    public struct Status: AsyncParsableCommand {
        public static let configuration = CommandConfiguration(
            abstract: "Show queue sizes by state and channel, running jobs, workers and the oldest due job.")

        @OptionGroup public var global: GlobalOptions
        @Flag(help: "Print JSON instead of tables.") public var json = false

        public init() {}

        public func run() async throws {
            let store = try await global.openStore(.readOnly)
            // Jobs of a dead worker are freed here too: with every worker dead, nothing else would.
            if let note = await global.freeDeadWorkers(store) { FileHandle.standardError.write(Data((note + "\n").utf8)) }
            let snapshot = try await StatusSnapshot.read(store, folders: Result { try global.loadConfig().jobFolders() })
            let (now, stats, running, starts, version, oldestAge, disk, live) = (snapshot.now, snapshot.stats, snapshot.running,
                snapshot.starts, snapshot.version, snapshot.oldestAge, snapshot.disk, snapshot.live)
            if json {
                print(Output.json(snapshot.json(database: global.databaseName)))
                return
            }
            print("database: \(global.databaseName) (schema version \(version))")
            let totals = JobState.allCases.map { "\($0.rawValue) \(stats.byState[$0, default: 0])" }.joined(separator: ", ")
            print("jobs: \(totals)")
            print("oldest due queued job: \(oldestAge.map { Output.duration($0) + " ago" } ?? "none")")
            for p in snapshot.paused {
                print("channel \(p.channel) paused since \(Timestamp.string(p.pausedAt)) by \(p.pausedBy) (ytauto-admin resume \(p.channel))")
            }
            print("")
            switch disk {
            case .success(let d):
                // A folder that is not there reads as such, not as "0 bytes" (a relative one, from
                // another folder than the worker's, is not the worker's).
                func used(_ folder: URL, _ bytes: Int64) -> String {
                    Files.isFolder(folder.path) ? Output.bytes(bytes) : "not a folder here"
                }
                print(Output.table(["disk", "folder", "used"], [
                    ["work", d.folders.work.path, used(d.folders.work, d.use.work)],
                    ["  stock footage", StockCache(workDirectory: d.folders.work).folder.path,
                     Output.bytes(d.use.stock) + " of it (ytauto-admin prune trims it)"],
                    ["output", d.folders.output.path, used(d.folders.output, d.use.output)],
                ]))
            case .failure(let error):
                print("disk: unknown (the configuration could not be read: \(error))")
            }
            if !stats.counts.isEmpty {
                print("")
                let rows = stats.counts.keys.sorted().map { c in
                    [c] + JobState.allCases.map { String(stats.counts[c]?[$0] ?? 0) }
                }
                print(Output.table(["channel"] + JobState.allCases.map(\.rawValue), rows))
            }
            print("")
            if running.isEmpty {
                print("running: none")
            } else {
                print(Output.table(
                    ["job", "channel", "stage", "attempt", "worker", "elapsed"],
                    running.map { j in
                        [String(j.id), j.channel, j.currentStage ?? "-", "\(j.attempt)/\(j.maxAttempts)", j.leaseOwner ?? "-",
                         starts[j.id].map { Output.duration(now.timeIntervalSince($0)) } ?? "-"]
                    }))
            }
            print("")
            if live.isEmpty {
                print("workers: none running")
            } else {
                print(Output.table(
                    ["worker", "pid", "host", "state", "started"],
                    live.map { w, alive in
                        [w.id, String(w.pid), w.hostname, alive ? "alive" : "dead (not yet reclaimed)", Timestamp.string(w.startedAt)]
                    }))
            }
        }
    }

    /// `ytauto enqueue`: one job now or at a time.
    public struct Enqueue: AsyncParsableCommand {
        public static let configuration = CommandConfiguration(
            abstract: "Add a job for a channel.",
            discussion: """
                Without --topic, the channel's next topic is taken: one not used within topic_recency_days, never-used first, else the one used longest ago. \
                --at takes an ISO-8601 time (2026-12-01T18:00:00Z or with an offset); default now. \
                Lower --priority runs first; default is the channel's priority.
                """)

        @OptionGroup public var global: GlobalOptions
        @Argument(help: "The channel's name, as in the configuration.", transform: ChannelConfig.canonicalName) public var channel: String
        @Option(help: "The video's topic.") public var topic: String?
        @Option(help: "When the job becomes due (ISO-8601).") public var at: String?
        @Option(parsing: .unconditional, help: "Lower runs first.") public var priority: Int?
        @Option(help: "A key that makes the enqueue idempotent: a second job with it is never made.") public var uniqueKey: String?
        @Flag(help: "Enqueue a diagnostic job: only a worker started with --synthetic-stage-ms leases it, and no video is made.")
        public var synthetic = false
        @Flag(help: "Print the job as JSON.") public var json = false

        public init() {}

        public func validate() throws {
            if let at { _ = try OptionCheck.time(at, "--at") }
            try OptionCheck.topic(topic)
            if let priority { try OptionCheck.range(priority, ConfigLimits.priority, "--priority") }
        }

        /// An RFC 3339 time an operator typed (`2026-12-01T18:00:00Z`, `…18:00:00.250+01:00`,
        /// `…+0100`), checked field by field: a date that does not exist (30 February), a time
        /// of day past 23:59:59 and an offset past ±14:00 or with 60 minutes or more are refused,
        /// not rolled over into another instant as Foundation's parsers do. Nil when it is none.
        static func parseTime(_ text: String) -> Date? {
            let shape = #/(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?(Z|z|([+-])(\d{2}):?(\d{2}))/#
            guard let m = text.wholeMatch(of: shape),
                  let y = Int(m.1), let mo = Int(m.2), let d = Int(m.3), let h = Int(m.4), let mi = Int(m.5), let sec = Int(m.6),
                  (1...12).contains(mo), h < 24, mi < 60, sec < 60 else { return nil }
            var utc = Calendar(identifier: .gregorian)
            utc.timeZone = TimeZone(identifier: "UTC")!
            guard let first = utc.date(from: DateComponents(year: y, month: mo, day: 1)),
                  let days = utc.range(of: .day, in: .month, for: first), days.contains(d),
                  let day = utc.date(from: DateComponents(year: y, month: mo, day: d, hour: h, minute: mi, second: sec)) else { return nil }
            var offset = 0
            if let sign = m.9, let oh = m.10.flatMap({ Int($0) }), let om = m.11.flatMap({ Int($0) }) {
                guard om < 60, oh * 60 + om <= 14 * 60 else { return nil }
                offset = (sign == "-" ? -1 : 1) * (oh * 3600 + om * 60)
            }
            let fraction = m.7.flatMap { Double("0" + $0) } ?? 0
            return day.addingTimeInterval(fraction - Double(offset))
        }

        public func run() async throws {
            let config = try global.loadConfig()
            let channelConfig = try config.channel(named: channel)
            // Found now, not at compose after the narration, scenes and clips were made.
            if !synthetic, let topic, let problem = ChannelStyle.topicProblem(topic, channel: channelConfig) {
                throw CLIError("--topic: \(problem)")
            }
            let store = try await global.openStore()
            let new = NewJob(
                channel: channel, topic: topic, priority: priority ?? channelConfig.priority,
                runAt: at.flatMap(Enqueue.parseTime), maxAttempts: channelConfig.maxAttempts, uniqueKey: uniqueKey,
                kind: synthetic ? .synthetic : .video)
            let result: EnqueueResult
            if topic != nil {
                result = try await store.enqueue(new)
            } else {
                let picked = try await store.enqueueNextTopic(new, channel: channelConfig)
                result = picked.result
                if picked.recent && !json {
                    print("note: every topic of \(channel) was used within \(channelConfig.topicRecencyDays) days; taking the oldest")
                }
            }
            if json {
                print(Output.json(JobWith(job: JobJSON(result.job), more: EnqueuedJSON(inserted: result.inserted))))
            } else {
                let verb = (result.inserted ? "queued" : "already exists (same unique key):")
                    + (result.job.kind == .synthetic ? " (diagnostic: for --synthetic-stage-ms workers only)" : "")
                // The job's own channel: a unique key names one job across channels.
                print("job \(result.job.id) \(verb) channel \(result.job.channel), topic \"\(result.job.topic ?? "-")\", due \(Timestamp.string(result.job.runAt))")
            }
        }
    }
}
