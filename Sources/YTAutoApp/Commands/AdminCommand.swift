import ArgumentParser
import Foundation
import YTAutoCore
import YTAutoStore

/// `ytauto-admin`: what ran, what failed and why, and what to do about it.
public struct AdminCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "ytauto-admin",
        abstract: "Inspect and repair the ytauto job queue. Exit codes: 0 ok, 1 failure, 2 usage.",
        subcommands: [Migrate.self, ListFailed.self, Show.self, Retry.self, Cancel.self, History.self, Slots.self, Quota.self, Workers.self, Prune.self, Backup.self])

    public init() {}

    public struct Migrate: AsyncParsableCommand {
        public static let configuration = CommandConfiguration(
            abstract: "Apply pending migrations (each in its own transaction) and show the schema's history.")
        @OptionGroup public var global: GlobalOptions
        public init() {}

        public func run() async throws {
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
        @Option(help: "Only this channel.") public var channel: String?
        @Option(help: "Only jobs that failed at or after this time (ISO-8601) or within this age (7d, 12h, 30m).") public var since: String?
        @Option(help: "At most this many.") public var limit = 100
        @Flag(help: "Print JSON.") public var json = false
        public init() {}

        public func validate() throws {
            if let since { _ = try OptionCheck.since(since) }
            try OptionCheck.range(limit, ConfigLimits.listLimit, "--limit")
        }

        public func run() async throws {
            let store = try global.openStore()
            let jobs = try await store.listFailed(channel: channel, since: try since.map { try OptionCheck.since($0) }, limit: limit)
            if json {
                print(Output.json(jobs.map(Output.jobJSON)))
                return
            }
            if jobs.isEmpty { print("no failed jobs"); return }
            print(Output.table(
                ["job", "channel", "failed at", "attempts", "stage", "error", "message"],
                jobs.map { j in
                    [String(j.id), j.channel, Output.time(j.finishedAt), "\(j.attempt)/\(j.maxAttempts)", j.currentStage ?? "-",
                     j.lastErrorCode ?? "-", String((j.lastErrorMessage ?? "-").prefix(100)).replacingOccurrences(of: "\n", with: " ")]
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
            let store = try global.openStore()
            guard let j = try await store.job(id: job) else { throw CLIError("job \(job) does not exist") }
            let stages = try await store.stages(jobID: job)
            let attempts = try await store.attempts(jobID: job)
            if json {
                var o = Output.jobJSON(j)
                o["stages"] = stages.map { s -> [String: Any] in
                    var d: [String: Any] = ["stage": s.stage, "state": s.state.rawValue, "attempt": s.attempt,
                                            "started_at": Timestamp.string(s.startedAt),
                                            "artifacts": s.artifacts.map { ["path": $0.path, "bytes": $0.bytes, "sha256": $0.sha256] }]
                    d["finished_at"] = s.finishedAt.map(Timestamp.string)
                    d["duration_ms"] = s.durationMS
                    d["error_code"] = s.errorCode
                    d["error_message"] = s.errorMessage
                    if !s.notes.isEmpty { d["notes"] = s.notes }
                    return d
                }
                o["attempts"] = attempts.map(Output.attemptJSON)
                print(Output.json(o))
                return
            }
            print("job \(j.id)  channel \(j.channel)  state \(j.state.rawValue)  attempt \(j.attempt)/\(j.maxAttempts)  priority \(j.priority)")
            print("topic: \(j.topic ?? "-")")
            print("created \(Output.time(j.createdAt))  run at \(Output.time(j.runAt))  finished \(Output.time(j.finishedAt))")
            if let code = j.lastErrorCode { print("last error: \(code): \(j.lastErrorMessage ?? "")") }
            if j.cancelRequested { print("cancel requested") }
            print("\nstages:")
            print(stages.isEmpty ? "  none" : Output.table(
                ["stage", "state", "attempt", "duration", "artifacts", "error"],
                stages.map { s in
                    [s.stage, s.state.rawValue, String(s.attempt), s.durationMS.map { Output.duration(Double($0) / 1000) } ?? "-",
                     s.artifacts.isEmpty ? "-" : s.artifacts.map { "\($0.path) (\($0.bytes) B, \($0.sha256.prefix(12)))" }.joined(separator: ", "),
                     s.errorCode.map { "\($0): \(s.errorMessage ?? "")" } ?? "-"]
                }))
            for s in stages where !s.notes.isEmpty {
                print("\(s.stage) notes: " + s.notes.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: "  "))
            }
            print("\nattempts:")
            print(attempts.isEmpty ? "  none" : Output.table(
                ["attempt", "worker", "started", "finished", "outcome", "stage", "error"],
                attempts.map { a in
                    [String(a.attempt), a.workerID, Output.time(a.startedAt), Output.time(a.finishedAt), a.outcome?.rawValue ?? "running",
                     a.stage ?? "-", a.errorCode.map { "\($0): \(a.errorMessage ?? "")" } ?? "-"]
                }))
        }
    }

    public struct Retry: AsyncParsableCommand {
        public static let configuration = CommandConfiguration(
            abstract: "Queue a failed or cancelled job again, or every failed job.",
            discussion: "Finished stages are kept, so the job resumes where it stopped. A job with no attempts left gets one more.")
        @OptionGroup public var global: GlobalOptions
        @Argument(help: "The job's id.") public var job: Int64?
        @Flag(help: "Retry every failed job.") public var allFailed = false
        @Option(help: "With --all-failed: only this channel.") public var channel: String?
        public init() {}

        public func validate() throws {
            if (job == nil) == !allFailed { throw ValidationError("give either a job id or --all-failed") }
            if channel != nil && !allFailed { throw ValidationError("--channel goes with --all-failed") }
        }

        public func run() async throws {
            let store = try global.openStore()
            if allFailed {
                let ids = try await store.retryAllFailed(channel: channel)
                print(ids.isEmpty ? "no failed jobs" : "queued again: \(ids.map(String.init).joined(separator: ", "))")
            } else if let job {
                let j = try await store.retry(jobID: job)
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
            let store = try global.openStore()
            switch try await store.cancel(jobID: job) {
            case .cancelled: print("job \(job) cancelled")
            case .requested: print("job \(job) is running: cancel requested; its worker stops it at the next heartbeat or stage")
            case .alreadyFinished(let s): throw CLIError("job \(job) already finished (\(s.rawValue)); nothing to cancel")
            }
        }
    }

    public struct History: AsyncParsableCommand {
        public static let configuration = CommandConfiguration(
            abstract: "Attempts, newest first: which job ran where, how long, and how it ended.")
        @OptionGroup public var global: GlobalOptions
        @Option(help: "Only this channel.") public var channel: String?
        @Option(help: "At most this many.") public var limit = 50
        @Flag(help: "Print JSON.") public var json = false
        public init() {}

        public func validate() throws { try OptionCheck.range(limit, ConfigLimits.listLimit, "--limit") }

        public func run() async throws {
            let store = try global.openStore()
            let rows = try await store.history(channel: channel, limit: limit)
            if json { print(Output.json(rows.map(Output.attemptJSON))); return }
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
            let store = try global.openStore()
            let workers = try await store.workers()
            if json {
                print(Output.json(workers.map { w -> [String: Any] in
                    var o: [String: Any] = ["id": w.id, "pid": Int(w.pid), "host": w.hostname, "state": w.state.rawValue,
                                            "started_at": Timestamp.string(w.startedAt), "last_seen_at": Timestamp.string(w.lastSeenAt)]
                    o["stopped_at"] = w.stoppedAt.map(Timestamp.string)
                    return o
                }))
                return
            }
            if workers.isEmpty { print("no workers registered"); return }
            print(Output.table(
                ["worker", "pid", "host", "state", "started", "last seen", "stopped"],
                workers.map { [$0.id, String($0.pid), $0.hostname, $0.state.rawValue, Output.time($0.startedAt), Output.time($0.lastSeenAt), Output.time($0.stoppedAt)] }))
        }
    }

    public struct Slots: AsyncParsableCommand {
        public static let configuration = CommandConfiguration(
            abstract: "The scheduler's decisions: each slot, and the job it became or why it did not.")
        @OptionGroup public var global: GlobalOptions
        @Option(help: "Only this channel.") public var channel: String?
        @Option(help: "Newest N slots.") public var limit = 50
        @Flag(help: "Print JSON.") public var json = false
        public init() {}

        public func validate() throws { try OptionCheck.range(limit, ConfigLimits.listLimit, "--limit") }

        public func run() async throws {
            let store = try global.openStore()
            let slots = try await store.slots(channel: channel, limit: limit)
            if json {
                print(Output.json(slots.map { s -> [String: Any] in
                    var o: [String: Any] = ["channel": s.channel, "slot_at": Timestamp.string(s.slotAt), "cron": s.expression,
                                            "decision": s.decision, "decided_at": Timestamp.string(s.decidedAt)]
                    o["topic"] = s.topic
                    o["job_id"] = s.jobID
                    o["detail"] = s.detail
                    return o
                }))
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
        @Option(help: "Days back, today included.") public var days = 7
        @Flag(help: "Print JSON.") public var json = false
        public init() {}

        public func validate() throws { try OptionCheck.range(days, ConfigLimits.quotaDays, "--days") }

        public func run() async throws {
            let store = try global.openStore()
            let since = QuotaDay.utc(Date().addingTimeInterval(-Double(max(0, days - 1)) * 86_400 - 86_400))
            let rows = try await store.ledger(since: since)
            if json {
                print(Output.json(rows.map { ["day": $0.day, "provider": $0.provider, "channel": $0.channel, "unit": $0.unit, "amount": Int($0.amount)] as [String: Any] }))
                return
            }
            if rows.isEmpty { print("nothing recorded since \(since)"); return }
            print(Output.table(["day", "provider", "channel", "unit", "amount"],
                               rows.map { [$0.day, $0.provider, $0.channel, $0.unit, String($0.amount)] }))
        }
    }

    public struct Prune: AsyncParsableCommand {
        public static let configuration = CommandConfiguration(
            abstract: "Delete finished jobs (with their stages and attempts) older than an age, in batches.")
        @OptionGroup public var global: GlobalOptions
        @Option(name: .customLong("older-than"), help: "An age: 30d, 12h or 45m.") public var olderThan: String
        @Option(help: "Rows per transaction.") public var batchSize = 500
        public init() {}

        public func validate() throws {
            _ = try OptionCheck.age(olderThan, "--older-than")
            try OptionCheck.range(batchSize, ConfigLimits.batchSize, "--batch-size")
        }

        public func run() async throws {
            let store = try global.openStore()
            let cutoff = Date().addingTimeInterval(-(try OptionCheck.age(olderThan, "--older-than")))
            let n = try await store.prune(finishedBefore: cutoff, batchSize: batchSize)
            print("pruned \(n) finished jobs that finished before \(Timestamp.string(cutoff))")
        }
    }
}

extension AdminCommand {
    public struct Backup: AsyncParsableCommand {
        public static let configuration = CommandConfiguration(
            abstract: "Copy the database to PATH with SQLite's online backup API; safe while workers run.")
        @OptionGroup public var global: GlobalOptions
        @Argument(help: "Where to write the copy. An existing file there is replaced only when the copy is complete.") public var path: String
        public init() {}

        public func run() async throws {
            let store = try global.openStore()
            let target = path
            try store.database.sync { db in try db.backup(to: target) }
            print("backed up \(global.databasePath) to \(target)")
        }
    }
}
