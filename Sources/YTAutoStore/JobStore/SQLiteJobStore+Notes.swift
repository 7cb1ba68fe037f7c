import Foundation
import YTAutoCore

extension SQLiteJobStore {
    /// Merges `notes` into the stage's recorded notes, in one write fenced by the lease.
    /// - Throws: ``LeaseLost`` if the job is no longer this lease's.
    public func saveStageNotes(_ lease: Lease, stage: String, notes: [String: String]) async throws {
        let json = String(decoding: try JSONEncoder().encode(notes), as: UTF8.self)
        let now = self.now()
        try await database.write { db in
            let job = try Self.requireLease(db, lease)
            let changed = try db.run(
                "UPDATE job_stages SET notes = json_patch(notes, ?) WHERE job_id = ? AND stage = ?", [json, job.id, stage])
            if changed == 0 {
                try db.run("""
                    INSERT INTO job_stages (job_id, stage, state, attempt, started_at, notes) VALUES (?, ?, 'running', ?, ?, ?)
                    """, [job.id, stage, job.attempt, now, json])
            }
        }
    }

    public func markStagesStale(_ lease: Lease, stages: [String], because: String) async throws {
        try await database.write(wakes: false) { db in
            let job = try Self.requireLease(db, lease)
            for stage in stages {
                try db.run("""
                    UPDATE job_stages SET state = 'failed', attempt = ?, error_code = ?, error_message = ?
                     WHERE job_id = ? AND stage = ?
                    """, [job.attempt, JobRules.staleStageCode, because, job.id, stage])
            }
        }
    }

    /// The notes a stage of a job recorded.
    public func stageNotes(jobID: Int64, stage: String) async throws -> [String: String] {
        try await database.read { db in
            guard let row = try db.queryOne("SELECT notes FROM job_stages WHERE job_id = ? AND stage = ?", [jobID, stage]) else { return [:] }
            return try StoredRow(row, table: "job_stages", name: "stage \(stage) of job \(jobID)")
                .json("notes", [String: String].self, expected: "a JSON object of strings")
        }
    }
}
