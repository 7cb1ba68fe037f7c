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
                try db.query(SQL.pruneBatch, [cutoff, batchSize]).compactMap { row -> PrunedJob? in
                    guard let id = row.int("id"), let channel = row.string("channel"),
                          let state = row.string("state").flatMap(JobState.init(rawValue:)) else { return nil }
                    return PrunedJob(id: id, channel: channel, topic: row.string("topic"), state: state)
                }
            }
            all += deleted
            if deleted.count < batchSize { return all.sorted { $0.id < $1.id } }
        }
    }
}
