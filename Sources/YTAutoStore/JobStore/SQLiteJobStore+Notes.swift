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

    /// The notes a stage of a job recorded.
    public func stageNotes(jobID: Int64, stage: String) async throws -> [String: String] {
        let text = try await database.read { db in
            try db.queryOne("SELECT notes FROM job_stages WHERE job_id = ? AND stage = ?", [jobID, stage])?.string("notes")
        }
        guard let data = text?.data(using: .utf8) else { return [:] }
        return (try? JSONDecoder().decode([String: String].self, from: data)) ?? [:]
    }
}

extension SQLiteJobStore: QuotaLedger {
    public func record(provider: String, channel: String, unit: String, amount: Int, day: String) async throws {
        guard amount > 0 else { return }
        let now = self.now()
        try await database.write { db in
            try db.run("""
                INSERT INTO quota_ledger (day, provider, channel, unit, amount, updated_at) VALUES (?, ?, ?, ?, ?, ?)
                ON CONFLICT (day, provider, channel, unit) DO UPDATE SET amount = amount + excluded.amount, updated_at = excluded.updated_at
                """, [day, provider, channel, unit, amount, now])
        }
    }

    public func reserve(provider: String, channel: String, unit: String, amount: Int, limit: Int, day: String) async throws -> Bool {
        let now = self.now()
        return try await database.write { db in
            let used = try db.queryOne(
                "SELECT coalesce(sum(amount), 0) AS used FROM quota_ledger WHERE day = ? AND provider = ? AND unit = ?",
                [day, provider, unit])?.int("used") ?? 0
            guard used + Int64(amount) <= Int64(limit) else { return false }
            try db.run("""
                INSERT INTO quota_ledger (day, provider, channel, unit, amount, updated_at) VALUES (?, ?, ?, ?, ?, ?)
                ON CONFLICT (day, provider, channel, unit) DO UPDATE SET amount = amount + excluded.amount, updated_at = excluded.updated_at
                """, [day, provider, channel, unit, amount, now])
            return true
        }
    }

    public func used(provider: String, unit: String, day: String) async throws -> Int {
        try await database.read { db in
            Int(try db.queryOne(
                "SELECT coalesce(sum(amount), 0) AS used FROM quota_ledger WHERE day = ? AND provider = ? AND unit = ?",
                [day, provider, unit])?.int("used") ?? 0)
        }
    }

    /// The ledger's rows since `day` (inclusive), newest day first.
    public func ledger(since day: String) async throws -> [LedgerEntry] {
        try await database.read { db in
            try db.query("SELECT * FROM quota_ledger WHERE day >= ? ORDER BY day DESC, provider, channel, unit", [day]).map { r in
                LedgerEntry(day: r.string("day") ?? "", provider: r.string("provider") ?? "", channel: r.string("channel") ?? "",
                            unit: r.string("unit") ?? "", amount: r.int("amount") ?? 0)
            }
        }
    }
}
