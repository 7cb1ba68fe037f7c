import ArgumentParser
import Foundation
import YTAutoCore
import YTAutoMedia
import YTAutoPostgres
import YTAutoProviders
import YTAutoStore
import YTAutoSupport

/// `ytauto-admin`: what ran, what failed and why, and what to do about it.
public struct AdminCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "ytauto-admin",
        abstract: "Inspect and repair the ytauto job queue. Exit codes: 0 ok, 1 failure, 2 usage.",
        subcommands: [Migrate.self, ListFailed.self, Show.self, Retry.self, Cancel.self, Review.self, Approve.self, Reject.self, Pause.self, Resume.self, History.self, Slots.self, Quota.self, Audit.self, Workers.self, Prune.self, Backup.self, Restore.self, Check.self, Copy.self])

    public init() {}

    public struct Migrate: AsyncParsableCommand {
        public static let configuration = CommandConfiguration(
            abstract: "Apply pending migrations (each in its own transaction) and show the schema's history.")
        @OptionGroup public var global: GlobalOptions
        public init() {}

        public func run() async throws {
            // With `ytauto init`, the only command that creates or migrates a database: it is asked for by name.
            if let url = global.postgresURL {
                let (applied, history) = try await PostgresJobStore.migrate(url: url)
                print(applied.isEmpty ? "schema is up to date" : "applied: \(applied.map(\.fileName).joined(separator: ", "))")
                print(Output.table(["version", "name", "applied at", "checksum"], history.map {
                    [String(format: "%04d", $0.version), $0.name, Output.time($0.appliedAt), String($0.checksum.prefix(16))]
                }))
                return
            }
            try global.refuseForeignSQLite()
            let db = try Connection(path: global.databasePath)
            let migrator = Migrator()
            let applied = try migrator.migrate(db)
            print(applied.isEmpty ? "schema is up to date" : "applied: \(applied.map(\.fileName).joined(separator: ", "))")
            print(Output.table(
                ["version", "name", "applied at", "checksum"],
                try migrator.applied(db).map {
                    [String(format: "%04d", $0.version), $0.name, Output.time($0.appliedAt), String($0.checksum.prefix(16))]
                }))
        }
    }

    public struct ListFailed: AsyncParsableCommand {
        public static let configuration = CommandConfiguration(
            commandName: "list-failed", abstract: "Failed jobs, newest first, with error code, message, attempts and last stage.")
        @OptionGroup public var global: GlobalOptions
        @Option(help: "Only this channel.", transform: ChannelConfig.canonicalName) public var channel: String?
        @Option(help: "Only jobs whose last error has this code (work.stuck, youtube.quota_exceeded, …).") public var code: String?
        @Option(help: "Only jobs that failed at or after this time (ISO-8601) or within this age (7d, 12h, 30m).") public var since: String?
        @Option(parsing: .unconditional, help: "At most this many.") public var limit = 100
        @Flag(help: "Print JSON.") public var json = false
        public init() {}

        public func validate() throws {
            if let since { _ = try OptionCheck.since(since) }
            if let code { try OptionCheck.errorCode(code) }
            try OptionCheck.range(limit, ConfigLimits.listLimit, "--limit")
        }

        public func run() async throws {
            let store = try await global.openStore(.readOnly)
            if let note = await global.freeDeadWorkers(store) { FileHandle.standardError.write(Data((note + "\n").utf8)) }
            let jobs = try await store.listFailed(
                channel: channel, code: code, since: try since.map { try OptionCheck.since($0) }, limit: limit)
            if jobs.isEmpty { try await global.checkChannelKnown(channel, store: store) }
            if json {
                print(Output.json(jobs.map(JobJSON.init)))
                return
            }
            if jobs.isEmpty { print(code.map { "no failed jobs whose last error is \($0)" } ?? "no failed jobs"); return }
            print(Output.table(
                ["job", "channel", "failed at", "attempts", "stage", "error", "message"],
                jobs.map { j in
                    [String(j.id), j.channel, Output.time(j.finishedAt), "\(j.attempt)/\(j.maxAttempts)", j.currentStage ?? "-",
                     j.lastErrorCode ?? "-", Output.clip(j.lastErrorMessage ?? "-", to: 100)]
                }))
        }
    }

    public struct Show: AsyncParsableCommand {
        public static let configuration = CommandConfiguration(
            abstract: "One job: its stages with durations and artifacts, and every attempt with its error.")
        @OptionGroup public var global: GlobalOptions
        @Argument(help: "The job's id.") public var job: Int64
        @Flag(help: "Print JSON.") public var json = false
        public init() {}

        public func run() async throws {
            let store = try await global.openStore(.readOnly)
            if let note = await global.freeDeadWorkers(store) { FileHandle.standardError.write(Data((note + "\n").utf8)) }
            guard let j = try await store.job(id: job) else { throw CLIError("job \(job) does not exist") }
            // In the pipeline's order (the store gives them by start: a stage made again starts after the later ones).
            let stages = try await store.stages(jobID: job).enumerated().sorted { a, b in
                (Stage.names.firstIndex(of: a.element.stage) ?? Int.max, a.offset) < (Stage.names.firstIndex(of: b.element.stage) ?? Int.max, b.offset)
            }.map(\.element)
            let attempts = try await store.attempts(jobID: job)
            let runs = try await store.stageRuns(jobID: job)
            let review = try await store.review(jobID: job)
            if json {
                print(Output.json(JobWith(job: JobJSON(j), more: JobHistoryJSON(
                    stages: stages.map(JobHistoryJSON.StageJSON.init), attempts: attempts.map(AttemptJSON.init),
                    stageRuns: runs.map(JobHistoryJSON.StageJSON.init),
                    review: review.map { ReviewJSON($0, video: nil) }))))
                return
            }
            print("job \(j.id)  channel \(j.channel)  state \(j.state.rawValue)  attempt \(j.attempt)/\(j.maxAttempts)  priority \(j.priority)")
            print("topic: \(TextControls.visible(j.topic ?? "-"))")
            print("created \(Output.time(j.createdAt))  scheduled \(Output.time(j.scheduledAt))  run at \(Output.time(j.runAt))  finished \(Output.time(j.finishedAt))")
            if j.kind != .video { print("kind: \(j.kind.rawValue) (diagnostic; no video)") }
            if let code = j.lastErrorCode {
                // A job queued, run or published again since keeps the error it had: say it is an earlier one.
                let ended = j.state == .failed || j.state == .cancelled
                print("\(ended ? "last error" : "earlier error (before it was queued again)"): \(code): \(TextControls.visible(j.lastErrorMessage ?? ""))")
            }
            if j.cancelRequested { print("cancel requested") }
            if let review {
                switch review.decision {
                case nil where j.state == .review:
                    print("review: waiting since \(Output.time(review.requestedAt)) (ytauto-admin approve|reject \(j.id))")
                case nil:
                    // Cancelled while it waited, say: nobody decided, and approve or reject would be refused.
                    print("review: asked \(Output.time(review.requestedAt)), never decided (the job is \(j.state.rawValue))")
                case .approved?: print("review: approved by \(review.decidedBy ?? "?") at \(Output.time(review.decidedAt))")
                case .rejected?: print("review: rejected by \(review.decidedBy ?? "?") at \(Output.time(review.decidedAt)): \(TextControls.visible(review.reason ?? ""))")
                }
            }
            print("\nstages (files' paths and checksums: --json):")
            print(stages.isEmpty ? "  none" : Output.table(
                ["stage", "state", "attempt", "duration", "files", "error"],
                stages.map { s in
                    [s.stage, s.state.rawValue, String(s.attempt), s.durationMS.map { Output.duration(Double($0) / 1000) } ?? "-",
                     Output.files(s.artifacts), s.errorCode.map { "\($0): \(s.errorMessage ?? "")" } ?? "-"]
                }))
            for s in stages where !s.notes.isEmpty {
                print("\(s.stage) notes: " + TextControls.visible(s.notes.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: "  ")))
            }
            // The video stands when YouTube refused its thumbnail or captions; say so plainly, not only in the notes.
            for s in stages where s.notes["thumbnail_set"] == "false" {
                print("warning: \(s.stage): the video is published but its thumbnail was not set: \(s.notes["thumbnail_error"] ?? "no reason recorded")")
            }
            for s in stages where s.notes["captions_set"] == "false" {
                print("warning: \(s.stage): the video is published but its captions were not added: \(s.notes["captions_error"] ?? "no reason recorded")")
            }
            // A run that did not spend its attempt (a hand-back, a hold for review) leaves the next
            // run the same attempt number: the runs are numbered too.
            print("\nattempts (a run handed back or held for review does not spend its attempt):")
            print(attempts.isEmpty ? "  none" : Output.table(
                ["run", "attempt", "worker", "pipeline", "started", "finished", "outcome", "stage", "error"],
                attempts.enumerated().map { n, a in
                    [String(n + 1), String(a.attempt), a.workerID, a.pipeline ?? "-", Output.time(a.startedAt), Output.time(a.finishedAt), a.outcome?.rawValue ?? "running",
                     a.stage ?? "-", a.errorCode.map { "\($0): \(a.errorMessage ?? "")" } ?? "-"]
                }))
            print("\nstage runs (every run of every stage, per attempt):")
            print(runs.isEmpty ? "  none" : Output.table(
                ["attempt", "stage", "state", "started", "duration", "error"],
                runs.map { r in
                    [String(r.attempt), r.stage, r.state.rawValue, Output.time(r.startedAt),
                     r.durationMS.map { Output.duration(Double($0) / 1000) } ?? "-",
                     r.errorCode.map { "\($0): \(r.errorMessage ?? "")" } ?? "-"]
                }))
        }
    }

    public struct Retry: AsyncParsableCommand {
        public static let configuration = CommandConfiguration(
            abstract: "Queue a failed or cancelled job again, or every failed job; or redo a job from a stage (--from).",
            discussion: """
                Finished stages are kept, so the job resumes where it stopped. A job with no attempts left gets one more. \
                With --from STAGE (one of \(Stage.names.joined(separator: ", "))), that stage and every later one are made \
                again and the earlier ones kept (a new thumbnail without a new script); any job but a running one, and never \
                one already uploaded to YouTube (that would upload a second video).
                """)
        @OptionGroup public var global: GlobalOptions
        @Argument(help: "The job's id.") public var job: Int64?
        @Flag(help: "Retry every failed job.") public var allFailed = false
        @Option(help: "With --all-failed: only this channel.", transform: ChannelConfig.canonicalName) public var channel: String?
        @Option(help: "Redo the job from this stage: it and the later stages run again.") public var from: String?
        public init() {}

        public func validate() throws {
            if (job == nil) == !allFailed { throw ValidationError("give either a job id or --all-failed") }
            if channel != nil && !allFailed { throw ValidationError("--channel goes with --all-failed") }
            if let from {
                if allFailed { throw ValidationError("--from goes with one job's id, not --all-failed") }
                do { _ = try JobRules.stagesToRedo(from: from) } catch { throw ValidationError("--from: \(error)") }
            }
        }

        public func run() async throws {
            let store = try await global.openStore()
            if allFailed {
                let ids = try await store.retryAllFailed(channel: channel)
                if ids.isEmpty { try await global.checkChannelKnown(channel, store: store) }
                try await audit(store, "bulk-retry", "jobs state=failed" + (channel.map { " channel=\($0)" } ?? ""), "\(ids.count) jobs")
                print(ids.isEmpty ? "no failed jobs" : "queued again: \(ids.map(String.init).joined(separator: ", "))")
            } else if let job, let from {
                let j = try await auditingRefusal(store, "redo", "job \(job)") { try await store.redo(jobID: job, from: from) }
                let stages = try JobRules.stagesToRedo(from: from)
                try await audit(store, "redo", "job \(job)", "from \(from) (attempt \(j.attempt) of \(j.maxAttempts) used)")
                // The earlier stages are kept only where their files still are (a job that
                // succeeded had its work files tidied away): say which a worker will make again.
                let records = try await store.stages(jobID: job)
                let earlier = Stage.names.filter { !stages.contains($0) }
                let kept = earlier.filter { name in
                    guard let record = records.first(where: { $0.stage == name }), record.isDone else { return false }
                    return record.artifacts.allSatisfy { a in
                        ((try? FileManager.default.attributesOfItem(atPath: a.path))?[.size] as? NSNumber)?.int64Value == a.bytes
                    }
                }
                let remade = earlier.filter { !kept.contains($0) }
                // A kept stage that reads one made again is kept only if that one comes out the
                // same, byte for byte (the worker compares what it recorded).
                var unsure = Set(remade)
                for name in kept where Stage(rawValue: name)?.inputs.contains(where: { unsure.contains($0.rawValue) }) == true {
                    unsure.insert(name)
                }
                let sure = kept.filter { !unsure.contains($0) }
                let ifSame = kept.filter { unsure.contains($0) }
                var line = "job \(j.id) queued again to redo \(stages.joined(separator: ", ")); "
                    + (kept.isEmpty ? "no stage is kept" : sure.isEmpty ? "no stage is surely kept" : "kept: \(sure.joined(separator: ", "))")
                if !remade.isEmpty {
                    line += "; made again too, their files being gone here (or never made): \(remade.joined(separator: ", "))"
                }
                if !ifSame.isEmpty {
                    line += "; kept only if what they read comes out the same: \(ifSame.joined(separator: ", "))"
                }
                print(line)
            } else if let job {
                let j = try await auditingRefusal(store, "retry", "job \(job)") { try await store.retry(jobID: job) }
                try await audit(store, "retry", "job \(job)", "queued again (attempt \(j.attempt) of \(j.maxAttempts))")
                print("job \(j.id) queued again (attempt \(j.attempt) of \(j.maxAttempts) used)")
            }
        }
    }

    public struct Cancel: AsyncParsableCommand {
        public static let configuration = CommandConfiguration(
            abstract: "Cancel a job: a queued job at once; a running job at its worker's next heartbeat or stage boundary.")
        @OptionGroup public var global: GlobalOptions
        @Argument(help: "The job's id.") public var job: Int64
        public init() {}

        public func run() async throws {
            let store = try await global.openStore()
            let result = try await auditingRefusal(store, "cancel", "job \(job)") { try await store.cancel(jobID: job) }
            try await audit(store, "cancel", "job \(job)", result.auditDetail)
            switch result {
            case .cancelled: print("job \(job) cancelled")
            case .requested: print("job \(job) is running: cancel requested; its worker stops it at the next heartbeat or stage")
            case .alreadyFinished(let s): throw CLIError("job \(job) already finished (\(s.rawValue)); nothing to cancel")
            }
        }
    }

    /// `ytauto-admin review`: the jobs waiting for review (channels with `review: true`).
    public struct Review: AsyncParsableCommand {
        public static let configuration = CommandConfiguration(
            abstract: "Jobs waiting for review before publishing (channels with review: true), longest waiting first.",
            discussion: "Approve one with `approve JOB` (a worker then publishes it) or reject it with `reject JOB --reason TEXT`.")
        @OptionGroup public var global: GlobalOptions
        @Option(parsing: .unconditional, help: "At most this many.") public var limit = 50
        @Flag(help: "Print JSON.") public var json = false
        public init() {}

        public func validate() throws { try OptionCheck.range(limit, ConfigLimits.listLimit, "--limit") }

        public func run() async throws {
            let store = try await global.openStore(.readOnly)
            let records = try await ReviewJSON.waiting(store, limit: limit)
            if json { return print(Output.json(records)) }
            if records.isEmpty { return print("no job is waiting for review") }
            let rows = records.map { r in
                [String(r.job.id), r.job.channel, r.job.topic ?? "-", r.more.requestedAt ?? "-", r.more.video ?? "-"]
            }
            print(Output.table(["id", "channel", "topic", "waiting since", "video"], rows))
        }
    }

    /// `ytauto-admin approve JOB`: see ``OperatorStore/approve(jobID:by:)``.
    public struct Approve: AsyncParsableCommand {
        public static let configuration = CommandConfiguration(
            abstract: "Approve a job waiting for review: it is queued again and a worker publishes it (its other stages are kept).")
        @OptionGroup public var global: GlobalOptions
        @Argument(help: "The job's id.") public var job: Int64
        public init() {}

        public func run() async throws {
            let store = try await global.openStore()
            let j = try await auditingRefusal(store, "approve", "job \(job)") { try await store.approve(jobID: job, by: AdminCommand.actor) }
            try await audit(store, "approve", "job \(job)", "queued to publish")
            print("job \(j.id) approved: queued to publish")
        }
    }

    /// `ytauto-admin reject JOB --reason TEXT`: see ``OperatorStore/reject(jobID:reason:by:)``.
    public struct Reject: AsyncParsableCommand {
        public static let configuration = CommandConfiguration(
            abstract: "Reject a job waiting for review: it ends cancelled with the reason recorded; nothing is published.",
            discussion: "`retry JOB` puts it up for review again; `retry JOB --from STAGE` makes that stage and the later ones again first.")
        @OptionGroup public var global: GlobalOptions
        @Argument(help: "The job's id.") public var job: Int64
        @Option(help: "Why (recorded as the job's last error; at most 1000 characters).") public var reason: String
        public init() {}

        public func validate() throws {
            do { _ = try ReviewRules.checkedReason(reason) } catch { throw ValidationError("--reason: \(error)") }
        }

        public func run() async throws {
            let store = try await global.openStore()
            let j = try await auditingRefusal(store, "reject", "job \(job)") { try await store.reject(jobID: job, reason: reason, by: AdminCommand.actor) }
            try await audit(store, "reject", "job \(job)", reason)
            print("job \(j.id) rejected: \(j.state.rawValue), nothing published")
        }
    }

    /// `ytauto-admin pause CHANNEL`: see ``OperatorStore/pause(channel:by:)``.
    public struct Pause: AsyncParsableCommand {
        public static let configuration = CommandConfiguration(
            abstract: "Pause a channel: its slots are recorded as paused (no job), and workers lease none of its queued jobs until it is resumed.",
            discussion: """
                Running jobs finish. Queued jobs stay queued, in order. The slots of the pause are not made up \
                after it. The channel must be in the configuration (--config). Recorded in the audit log.
                """)
        @OptionGroup public var global: GlobalOptions
        @Argument(help: "The channel's name, as in the configuration.", transform: ChannelConfig.canonicalName) public var channel: String
        public init() {}

        public func run() async throws {
            let names: [String]
            do {
                names = try global.loadConfig().channels.map(\.name)
            } catch {
                throw CLIError("pause checks the channel against the configuration, which could not be read: \(error)")
            }
            let store = try await global.openStore()
            // Refusals and a channel paused already are audited too, as resume's are.
            let (pause, isNew) = try await auditingRefusal(store, "pause", "channel \(channel)") {
                guard names.contains(channel) else {
                    throw CLIError("no channel named '\(channel)' in the configuration (channels: \(names.joined(separator: ", ")))")
                }
                return try await store.pause(channel: channel, by: AdminCommand.actor)
            }
            if !isNew {
                let already = "already paused since \(Timestamp.string(pause.pausedAt)) by \(pause.pausedBy)"
                try await audit(store, "pause", "channel \(channel)", "refused: \(already)")
                // Refused, as resume of a channel not paused is (exit 1): the pause asked for was not made now.
                throw CLIError("channel \(channel) is \(already); nothing changed")
            }
            try await audit(store, "pause", "channel \(channel)", "paused")
            print("channel \(channel) paused: no new jobs from its schedule, none of its queued jobs leased (\(try await queuedCount(store, channel)) queued)")
        }
    }

    /// `ytauto-admin resume CHANNEL`.
    public struct Resume: AsyncParsableCommand {
        public static let configuration = CommandConfiguration(
            abstract: "Resume a paused channel: its next slots make jobs again and workers lease its queued jobs at once.")
        @OptionGroup public var global: GlobalOptions
        @Argument(help: "The channel's name.", transform: ChannelConfig.canonicalName) public var channel: String
        public init() {}

        public func run() async throws {
            let store = try await global.openStore()
            let ended = try await auditingRefusal(store, "resume", "channel \(channel)") {
                guard let ended = try await store.resume(channel: channel) else { throw CLIError("channel \(channel) is not paused") }
                return ended
            }
            try await audit(store, "resume", "channel \(channel)", "paused since \(Timestamp.string(ended.pausedAt))")
            print("channel \(channel) resumed (paused since \(Timestamp.string(ended.pausedAt)) by \(ended.pausedBy)); \(try await queuedCount(store, channel)) queued")
        }
    }

    static func queuedCount(_ store: any OperatorStore, _ channel: String) async throws -> Int {
        try await store.stats().counts[channel]?[.queued] ?? 0
    }

    public struct History: AsyncParsableCommand {
        public static let configuration = CommandConfiguration(
            abstract: "Attempts, newest first: which job ran where, how long, and how it ended.")
        @OptionGroup public var global: GlobalOptions
        @Option(help: "Only this channel.", transform: ChannelConfig.canonicalName) public var channel: String?
        @Option(parsing: .unconditional, help: "At most this many.") public var limit = 50
        @Flag(help: "Print JSON.") public var json = false
        public init() {}

        public func validate() throws { try OptionCheck.range(limit, ConfigLimits.listLimit, "--limit") }

        public func run() async throws {
            let store = try await global.openStore(.readOnly)
            if let note = await global.freeDeadWorkers(store) { FileHandle.standardError.write(Data((note + "\n").utf8)) }
            let rows = try await store.history(channel: channel, limit: limit)
            if rows.isEmpty { try await global.checkChannelKnown(channel, store: store) }
            if json { print(Output.json(rows.map(AttemptJSON.init))); return }
            if rows.isEmpty { print("no attempts yet"); return }
            print(Output.table(
                ["job", "attempt", "channel", "worker", "started", "took", "outcome", "stage", "error"],
                rows.map { a in
                    [String(a.jobID), String(a.attempt), a.channel, a.workerID, Output.time(a.startedAt),
                     a.finishedAt.map { Output.duration($0.timeIntervalSince(a.startedAt)) } ?? "running",
                     a.outcome?.rawValue ?? "running", a.stage ?? "-", a.errorCode ?? "-"]
                }))
        }
    }

    public struct Workers: AsyncParsableCommand {
        public static let configuration = CommandConfiguration(abstract: "Registered workers, live and dead.")
        @OptionGroup public var global: GlobalOptions
        @Flag(help: "Print JSON.") public var json = false
        public init() {}

        public func run() async throws {
            let store = try await global.openStore(.readOnly)
            if let note = await global.freeDeadWorkers(store) { FileHandle.standardError.write(Data((note + "\n").utf8)) }
            let workers = try await store.workers()
            var shown: [String: String] = [:]
            for w in workers { shown[w.id] = try await Workers.shownState(w, store: store) }
            if json {
                print(Output.json(workers.map { w in
                    WorkerJSON(id: w.id, pid: Int(w.pid), host: w.hostname,
                               state: (shown[w.id] ?? "").hasPrefix("dead") ? "dead" : w.state.rawValue,
                               startedAt: Timestamp.string(w.startedAt), lastSeenAt: Timestamp.string(w.lastSeenAt),
                               stoppedAt: w.stoppedAt.map(Timestamp.string))
                }))
                return
            }
            if workers.isEmpty { print("no workers registered"); return }
            print(Output.table(
                ["worker", "pid", "host", "state", "started", "last seen", "stopped"],
                workers.map { [$0.id, String($0.pid), $0.hostname, shown[$0.id] ?? $0.state.rawValue, Output.time($0.startedAt), Output.time($0.lastSeenAt), Output.time($0.stoppedAt)] }))
        }

        /// A row still `running` whose lock nobody holds (it could not be freed here, e.g. on a
        /// read-only database) shows as dead; a worker on another host is taken at its word.
        static func shownState(_ w: WorkerRecord, store: any OperatorStore) async throws -> String {
            guard w.state == .running, try await store.isAbandoned(w) == true else {
                return w.state.rawValue
            }
            return "dead (not yet freed)"
        }
    }

    public struct Slots: AsyncParsableCommand {
        public static let configuration = CommandConfiguration(
            abstract: "The scheduler's decisions: each slot, and the job it became or why it did not.")
        @OptionGroup public var global: GlobalOptions
        @Option(help: "Only this channel.", transform: ChannelConfig.canonicalName) public var channel: String?
        @Option(parsing: .unconditional, help: "Newest N slots.") public var limit = 50
        @Flag(help: "Print JSON.") public var json = false
        public init() {}

        public func validate() throws { try OptionCheck.range(limit, ConfigLimits.listLimit, "--limit") }

        public func run() async throws {
            let store = try await global.openStore(.readOnly)
            let slots = try await store.slots(channel: channel, limit: limit)
            if slots.isEmpty { try await global.checkChannelKnown(channel, store: store) }
            if json {
                print(Output.json(slots.map(SlotJSON.init)))
                return
            }
            if slots.isEmpty { print("no slots decided yet"); return }
            print(Output.table(
                ["slot", "channel", "cron", "decision", "job", "topic", "detail"],
                slots.map { [Output.time($0.slotAt), $0.channel, $0.expression, $0.decision, $0.jobID.map(String.init) ?? "-", $0.topic ?? "-", $0.detail ?? ""] }))
        }
    }

    public struct Quota: AsyncParsableCommand {
        public static let configuration = CommandConfiguration(
            abstract: "The quota ledger: what providers consumed per day and channel (YouTube units by Pacific day).")
        @OptionGroup public var global: GlobalOptions
        @Option(parsing: .unconditional, help: "Days back, today included.") public var days = 7
        @Flag(help: "Print JSON.") public var json = false
        public init() {}

        public func validate() throws { try OptionCheck.range(days, ConfigLimits.quotaDays, "--days") }

        public func run() async throws {
            let store = try await global.openStore(.readOnly)
            let now = Date()
            let since = QuotaDay.first(ofLast: days, now: now)
            let rows = try await store.ledger(since: since).filter { QuotaDay.isWithin(last: days, day: $0.day, of: $0.provider, now: now) }
            if json {
                print(Output.json(rows.map(LedgerJSON.init)))
                return
            }
            if rows.isEmpty { print("nothing recorded since \(since)"); return }
            print(Output.table(["day", "provider", "channel", "unit", "amount"],
                               rows.map { [$0.day, $0.provider, $0.channel, $0.unit, String($0.amount)] }))
        }
    }

    /// Who ytauto-admin acts as, in the audit log and a pause: `cli:` and the login name of the
    /// user who ran it (`USER`, else `LOGNAME`, else the name the system gives its user id, as
    /// under cron or a bare `docker exec`; its number only where it has none).
    static var actor: String {
        let environment = ProcessInfo.processInfo.environment
        let named = [environment["USER"], environment["LOGNAME"]].lazy.compactMap { $0 }.first { !$0.isEmpty }
        let user = named ?? getpwuid(getuid()).map { String(cString: $0.pointee.pw_name) } ?? "uid \(getuid())"
        return "cli:\(user)"
    }

    /// Records a steering command in the audit log, as the console records its actions, as ``actor``.
    static func audit(_ store: any OperatorStore, _ action: String, _ target: String, _ detail: String) async throws {
        try await (store as? any ConsoleStore)?.recordAudit(actor: actor, action: action, target: target, detail: detail)
    }

    /// Runs an operator's action and, when the store refuses it, records the refusal in the audit
    /// log (as the console does) before passing the error on. A log that cannot be written then
    /// does not hide the refusal's own error.
    static func auditingRefusal<T>(_ store: any OperatorStore, _ action: String, _ target: String,
                                   _ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch {
            try? await audit(store, action, target, "refused: \(error)")
            throw error
        }
    }

    /// `ytauto-admin audit`: what operators did from the web console, newest first.
    public struct Audit: AsyncParsableCommand {
        public static let configuration = CommandConfiguration(
            abstract: "List the audit log: every retry, redo, cancel, approve, reject, pause, resume and run-now, from the web console or ytauto-admin (who, when, what, on what, what came of it), newest first.")
        @OptionGroup public var global: GlobalOptions
        @Option(parsing: .unconditional, help: "At most this many entries.") public var limit = 50
        @Flag(help: "Print JSON.") public var json = false
        public init() {}

        public func validate() throws { try OptionCheck.range(limit, ConfigLimits.listLimit, "--limit") }

        public func run() async throws {
            guard let store = try await global.openStore(.readOnly) as? any ConsoleStore else {
                throw CLIError("the database at \(global.databaseName) keeps no audit log in this build")
            }
            let entries = try await store.auditLog(limit: limit)
            if json {
                print(Output.json(entries.map(AuditJSON.init)))
                return
            }
            if entries.isEmpty { print("no action recorded"); return }
            print(Output.table(["at", "who", "action", "on", "result"],
                               entries.map { [Timestamp.string($0.at), $0.actor, $0.action, $0.target, $0.detail ?? ""] }))
        }
    }

    public struct Prune: AsyncParsableCommand {
        public static let configuration = CommandConfiguration(
            abstract: "Delete finished jobs (with their stages and attempts) older than an age, in batches, and their work folders.",
            discussion: """
                Each deleted job's work folder (<work_dir>/<job>/) is removed too; its published video \
                (<output_dir>/<channel>/<job>-<topic>/) only with --with-output. The folders are found through the configuration (--config). \
                Stock footage downloads (<work_dir>/stock/) unused for as long (and for at least a day) go too, unless a job's \
                work folder still uses them, and stock searches past their 24 hours.
                """)
        @OptionGroup public var global: GlobalOptions
        @Option(name: .customLong("older-than"), help: "An age: 30d, 12h or 45m.") public var olderThan: String
        @Option(help: "Rows per transaction.") public var batchSize = 500
        @Flag(help: "Also remove the deleted jobs' output folders (their published videos).") public var withOutput = false
        public init() {}

        public func validate() throws {
            _ = try OptionCheck.age(olderThan, "--older-than")
            try OptionCheck.range(batchSize, ConfigLimits.batchSize, "--batch-size")
        }

        public func run() async throws {
            // The configuration first: without it the folders could not be found, and the rows
            // that point at them must not go before the folders can.
            let config: AppConfig, folders: JobFolders
            do {
                config = try global.loadConfig()
                folders = config.jobFolders()
            } catch {
                throw CLIError("prune removes the deleted jobs' work folders and needs the configuration to find them: \(error)")
            }
            let store = try await global.openStore()
            let age = try OptionCheck.age(olderThan, "--older-than")
            let cutoff = Date().addingTimeInterval(-age)
            // A work_dir that is not here (a relative one, from another folder than the worker's)
            // would delete the rows and leave their folders with nothing left to name them. Only a
            // job a worker took can have folders: one cancelled before that never had any.
            if let missing = [folders.work, withOutput ? folders.output : nil].compactMap({ $0 }).first(where: { !Files.isFolder($0.path) }),
               try await store.prunableJobsRan(finishedBefore: cutoff) {
                throw CLIError("""
                    \(missing.path) is not a folder here, so the finished jobs' folders could not be removed and would be left \
                    behind with no job to name them; nothing was pruned. Run prune from the folder the worker runs in \
                    (relative work_dir and output_dir are from the current folder, \(FileManager.default.currentDirectoryPath)), \
                    or make them absolute in \(global.configPath)
                    """)
            }
            let pruned = try await store.pruneReturningJobs(finishedBefore: cutoff, batchSize: batchSize)
            var freed: Int64 = 0, removed = 0
            var problems: [String] = []
            for job in pruned {
                var targets = [folders.work(jobID: job.id)]
                if withOutput { targets.append(folders.output(channel: job.channel, jobID: job.id, topic: job.topic)) }
                for folder in targets where FileManager.default.fileExists(atPath: folder.path) {
                    do {
                        freed += try JobFolders.remove(folder)
                        removed += 1
                    } catch {
                        problems.append("job \(job.id): cannot remove \(folder.path): \(error.localizedDescription)")
                    }
                }
            }
            print("pruned \(pruned.count) finished jobs that finished before \(Timestamp.string(cutoff))")
            print("removed \(removed) folder(s) of theirs (\(withOutput ? "work and output" : "work only; outputs kept"))"
                + ", \(Output.bytes(freed)) freed")
            // After the jobs' folders: a pruned failed job no longer holds its footage.
            let inUse = folders.footageInUse()
            if inUse.problems.isEmpty {
                let stock = StockCache(workDirectory: folders.work).prune(unusedBefore: cutoff, keeping: inUse.paths)
                print("removed \(stock.downloads) stock download(s) unused since \(Timestamp.string(stock.unusedBefore))"
                    + " and \(stock.searches) expired stock search(es), \(Output.bytes(stock.bytes)) freed"
                    + (stock.kept > 0 ? "; kept \(stock.kept) older one(s) that jobs' work folders still use" : ""))
                problems += stock.problems
            } else {
                problems += inUse.problems.map { "stock footage not pruned: \($0)" }
            }
            if !problems.isEmpty {
                throw CLIError("some files could not be removed (remove them by hand, or mend what is named):\n" + problems.joined(separator: "\n"))
            }
        }
    }
}

extension AdminCommand {
    public struct Backup: AsyncParsableCommand {
        public static let configuration = CommandConfiguration(
            abstract: "Copy the database to PATH with SQLite's online backup API, then check the copy; safe while workers run.",
            discussion: """
                The copy is checked with PRAGMA integrity_check (--quick: quick_check) before it is renamed to PATH. \
                A copy with problems means the database has damaged pages: it is kept as PATH.corrupt (PATH is left as it was), \
                SQLite's findings are printed, and the exit code is 1.
                """)
        @OptionGroup public var global: GlobalOptions
        @Argument(help: "Where to write the copy. An existing file there is replaced only when the copy is complete and sound.") public var path: String
        @Flag(help: "Check the copy with quick_check (no index-against-table check) instead of integrity_check.") public var quick = false
        public init() {}

        public func run() async throws {
            let file = try global.sqliteFile(for: "backup", postgresAlternative: "back it up with pg_dump or the server's own backups")
            let source = try AdminCommand.openForReading(file)
            do {
                let report = try source.backup(to: path, check: quick ? .quick : .full)
                print("backed up \(global.databasePath) to \(path); \(report.check.rawValue) of the copy: ok")
            } catch let failed as BackupCheckFailed {
                throw CLIError(failed.description)
            } catch let refused as BackupTargetRefused {
                throw CLIError(refused.description)
            } catch let notPlaced as BackupNotPlaced {
                throw CLIError(notPlaced.description)
            }
        }
    }

    public struct Restore: AsyncParsableCommand {
        public static let configuration = CommandConfiguration(
            abstract: "Put a backup in place of the database, with every process that uses it stopped; the database as it was is kept beside it.",
            discussion: """
                The backup is written with SQLite's backup API into a new file beside the database, checked \
                (quick_check) and given the database's mode and owner; then the database and its -wal are renamed, as \
                they are, to DB.before-restore-TIME (and -wal), and the new file takes their place. The database is \
                never read, so a damaged one can be restored over, and a -wal that a killed process left is kept with \
                the old file, never replayed over the backup (copying the backup over the database does that: it \
                corrupts it or brings the newer state back). Refused, changing nothing, while a process of this host \
                has the database open (workers, the scheduler, the console: stop them first) or a worker's lock file \
                is held; when BACKUP fails SQLite's integrity_check, is not a ytauto database, or has a newer schema \
                than this binary. Jobs the backup has running are freed by the first worker or \
                ytauto status that looks: their workers are gone.
                """)
        @OptionGroup public var global: GlobalOptions
        @Argument(help: "The backup to restore (a file `ytauto-admin backup` wrote).") public var backup: String
        public init() {}

        public func run() async throws {
            let path = try global.sqliteFile(for: "restore", postgresAlternative: "restore it with pg_restore or the server's own backups")
            if let problem = Connection.restoreSourceProblem(backup: backup, database: path) {
                throw CLIError("restore refused: \(problem)")
            }
            let holders = LocalProcess.holding([path, path + "-wal"])
            if !holders.isEmpty {
                let list = holders.map { "pid \($0.pid) (\($0.command))" }.joined(separator: ", ")
                throw CLIError("restore refused: \(path) is in use by \(list); stop them first")
            }
            // From the lock files, not the database: it may be too damaged to read.
            let running = WorkerLock.held(in: path + "-workers")
            if !running.isEmpty {
                throw CLIError("restore refused: worker(s) \(running.joined(separator: ", ")) of \(path) still run; stop them first")
            }
            let restored = try Connection.restore(backup: backup, into: path)
            let kept = restored.keptAt.map { "the database as it was is kept as \($0)" } ?? "no database was there before"
            guard restored.report.isSound else {
                throw CLIError("restored \(path) from \(backup), but its quick_check found: \(restored.report.problems.joined(separator: "; ")); \(kept)")
            }
            var options = Connection.Options()
            options.readOnly = true
            let database = try Connection(path: path, options: options)
            let applied = try Migrator().applied(database)
            let pending = Migration.embedded.count - applied.count
            print("restored \(path) from \(backup); quick_check ok; \(kept)")
            if pending > 0 { print("the backup's schema is older: run `ytauto-admin migrate` before starting workers") }
        }
    }

    public struct Check: AsyncParsableCommand {
        public static let configuration = CommandConfiguration(
            abstract: "Check the live database with PRAGMA integrity_check (--quick: quick_check), read-only. Exit 0 sound, 1 problems found.")
        @OptionGroup public var global: GlobalOptions
        @Flag(help: "quick_check: every page's structure but no index against its table; faster on a large file.") public var quick = false
        @Flag(help: "Print JSON.") public var json = false
        public init() {}

        public func run() async throws {
            let path = try global.sqliteFile(for: "check", postgresAlternative: "the server checks its own pages (data checksums, amcheck)")
            guard FileManager.default.fileExists(atPath: path) else {
                throw CLIError("no database at \(path); check --db or $YTAUTO_DB, or run `ytauto init` to create one")
            }
            let report = try Connection.check(path: path, quick ? .quick : .full)
            if json {
                print(Output.json(CheckJSON(database: path, check: report.check.rawValue, ok: report.isSound, problems: report.problems)))
            } else if report.isSound {
                print("\(path): \(report.check.rawValue) ok")
            } else {
                print("\(path): \(report.check.rawValue) found \(report.count):")
                for line in report.problems { print("  \(line)") }
            }
            if !report.isSound {
                throw CLIError("the database \(path) has damaged pages: stop the workers, then salvage it (sqlite3 \(path) .recover > recovered.sql) or restore a backup (ytauto-admin restore BACKUP)")
            }
        }
    }

    /// Opens the database read-only for a command that only reads it: a missing file is an error, never created.
    static func openForReading(_ path: String) throws -> Connection {
        guard FileManager.default.fileExists(atPath: path) else {
            throw CLIError("no database at \(path); check --db or $YTAUTO_DB, or run `ytauto init` to create one")
        }
        var options = Connection.Options()
        options.readOnly = true
        return try Connection(path: path, options: options)
    }
}
