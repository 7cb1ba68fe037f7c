import Foundation
import YTAutoCore

extension SQLiteJobStore {
    /// Deletes finished jobs (with their stages and attempts) that finished before `cutoff`,
    /// `batchSize` a transaction, and returns them, so the caller can remove their files: a row
    /// deleted without that would leave its folders with nothing pointing at them.
    public func pruneReturningJobs(finishedBefore cutoff: Date, batchSize: Int = 500) async throws -> [PrunedJob] {
        guard batchSize > 0 else { throw JobStoreError.invalidArgument("prune batch size must be positive") }
        var all: [PrunedJob] = []
        while true {
            let deleted = try await database.write { db in
                // A row that cannot be read throws, rolling the batch back: its files would be left behind.
                try db.query(SQL.pruneBatch, [cutoff, batchSize]).map { row -> PrunedJob in
                    let r = StoredRow(row, table: "jobs", key: "id", as: "job")
                    return PrunedJob(id: try r.int("id"), channel: try r.string("channel"), topic: try r.optionalString("topic"),
                                     state: try r.value("state", JobState.self, expected: "a job state"))
                }
            }
            all += deleted
            if deleted.count < batchSize { return all.sorted { $0.id < $1.id } }
        }
    }

    public func prunableJobsRan(finishedBefore cutoff: Date) async throws -> Bool {
        try await database.read { db in try db.queryOne(SQL.prunableRan, [cutoff]) != nil }
    }
}
