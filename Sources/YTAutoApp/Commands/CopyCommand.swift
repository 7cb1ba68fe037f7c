import ArgumentParser
import Foundation
import YTAutoCore

extension AdminCommand {
    /// `ytauto-admin copy --from DB --to DB`: moves an installation between engines (SQLite to
    /// PostgreSQL as it outgrows one host, or back), every job with its stages, attempts and stage
    /// runs, every slot, cursor, worker, ledger row and audit entry, ids kept.
    ///
    /// Decisions: the source must have no running job (stop the workers first: a running job's
    /// lease names a worker that would not exist on the other side); the target must be empty (a
    /// copy never merges two histories); jobs go over 500 a transaction, so an interrupted copy
    /// leaves a partial target, which a second copy refuses: empty it (a new database) and copy again.
    public struct Copy: AsyncParsableCommand {
        public static let configuration = CommandConfiguration(
            abstract: """
                Copy every job, attempt, stage run, slot, cursor, worker, ledger row, audit entry, pause, footage use, channel \
                history entry and pruned job's topic from one database to an empty one (SQLite or PostgreSQL).
                """)
        @Option(help: ArgumentHelp("The database to copy: a SQLite path, sqlite: URL or postgres:// URL.", valueName: "path-or-url"))
        public var from: String
        @Option(help: ArgumentHelp("The empty database to copy into (created and migrated if need be).", valueName: "path-or-url"))
        public var to: String
        public init() {}

        static func options(_ location: String) -> GlobalOptions {
            var g = GlobalOptions()
            g.db = location
            return g
        }

        /// Opens a store, its errors naming `flag` where they would name `--db` (which `copy` does not take).
        static func naming(_ flag: String, _ open: () async throws -> any OperatorStore) async throws -> any OperatorStore {
            do {
                return try await open()
            } catch let error as CLIError {
                throw CLIError(error.description.replacingOccurrences(of: "--db or YTAUTO_DB", with: flag).replacingOccurrences(of: "--db", with: flag))
            }
        }

        public func validate() throws {
            for (flag, location) in [("--from", from), ("--to", to)] { try Self.options(location).validate(source: flag) }
        }

        public func run() async throws {
            let source = Self.options(from), target = Self.options(to)
            guard source.databaseName != target.databaseName else {
                throw CLIError("--from and --to are the same database (\(source.databaseName))")
            }
            guard let reader = try await Self.naming("--from", { try await source.openStore(.readOnly) }) as? any StoreCopying else {
                throw CLIError("the engine of \(source.databaseName) cannot be copied from")
            }
            let running = try await reader.runningJobs()
            guard running.isEmpty else {
                throw CLIError("\(source.databaseName) has \(running.count) running job(s) (\(running.prefix(5).map { String($0.id) }.joined(separator: ", "))): "
                    + "stop its workers first (their jobs are handed back), then copy")
            }
            guard let writer = try await Self.naming("--to", { try await target.createStore() }) as? any StoreCopying else {
                throw CLIError("the engine of \(target.databaseName) cannot be copied into")
            }
            guard try await writer.isEmptyForCopy() else {
                let interrupted = try await writer.interruptedCopy().map { " (it holds \($0) that did not finish: make it anew)" } ?? ""
                throw CLIError("\(target.databaseName) is not empty\(interrupted): copy only into a new database (a copy never merges two histories)")
            }
            // Marked until the last row is written and the counts agree: a copy stopped part-way
            // leaves a database every command refuses, not a partial history a worker would run on.
            try await writer.beginCopy(from: source.databaseName)
            var after: Int64 = 0
            var jobs = 0, attempts = 0, runs = 0
            while true {
                let page = try await reader.copiedJobs(after: after, limit: 500)
                guard let last = page.last else { break }
                try await writer.insertCopied(page)
                jobs += page.count
                attempts += page.reduce(0) { $0 + $1.attempts.count }
                runs += page.reduce(0) { $0 + $1.stageRuns.count }
                after = last.job.id
            }
            let rest = try await reader.copiedInstallation()
            try await writer.insertCopied(rest)
            // The two must now agree on every count the queue keeps.
            let (a, b) = (try await reader.stats(), try await writer.stats())
            guard a.counts == b.counts else {
                throw CLIError("the copy's job counts differ from the source's (\(b.counts) against \(a.counts)); do not use it")
            }
            try await writer.endCopy()
            print("copied \(source.databaseName) to \(target.databaseName): \(jobs) jobs, \(attempts) attempts, \(runs) stage runs, "
                + "\(rest.slots.count) slots, \(rest.cursors.count) cursors, \(rest.workers.count) workers, \(rest.ledger.count) ledger rows, \(rest.audit.count) audit entries")
        }
    }
}
