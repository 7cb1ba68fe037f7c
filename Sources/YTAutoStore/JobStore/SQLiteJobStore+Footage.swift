import Foundation
import YTAutoCore

/// The footage ledger (``FootageLedger``) on SQLite: rows of `footage_uses`, one a channel and asset.
///
/// A use by a job that ended `failed` or `cancelled` keeps nothing from other jobs: that video was
/// never published, and its clips would otherwise be barred for the whole window.
extension SQLiteJobStore: FootageLedger {
    public func footageUsed(channel: String, days: Int, excludingJob job: Int64) async throws -> Set<String> {
        // 0 days: the channel may use anything again.
        guard days > 0 else { return [] }
        let since = now().addingTimeInterval(-Double(days) * 86_400)
        return try await database.read { db in
            // An index seek on the primary key's channel, then the channel's own rows (each job by its key).
            Set(try db.query("""
                SELECT asset FROM footage_uses WHERE channel = ? AND used_at >= ? AND job_id <> ? AND NOT \(SQL.footageJobUnpublished)
                """, [channel, since, job]).map {
                try StoredRow($0, table: "footage_uses", key: "asset", as: "footage use").string("asset")
            })
        }
    }

    public func claimFootage(channel: String, job: Int64, key: String, days: Int) async throws -> Bool {
        let now = self.now()
        // Another job's use at or after `since` keeps the key from this job; nil: no window.
        let since: Date? = days > 0 ? now.addingTimeInterval(-Double(days) * 86_400) : nil
        return try await database.write { db in try !db.query(SQL.claimFootage, [channel, key, job, now, since]).isEmpty }
    }

    /// Every key in one write transaction.
    public func recordFootage(channel: String, job: Int64, keys: [String]) async throws {
        let now = self.now()
        let unique = Set(keys).sorted()
        guard !unique.isEmpty else { return }
        try await database.write { db in
            // Claims with no window (?5 NULL): each always lands.
            for key in unique { _ = try db.query(SQL.claimFootage, [channel, key, job, now, nil as Date?]) }
        }
    }

    /// Every row, for `ytauto-admin copy`.
    func footageUses() async throws -> [FootageUse] {
        try await database.read { db in
            try db.query("SELECT channel, asset, job_id, used_at FROM footage_uses ORDER BY channel, asset").map { row in
                let r = StoredRow(row, table: "footage_uses", key: "asset", as: "footage use")
                return FootageUse(channel: try r.string("channel"), key: try r.string("asset"), jobID: try r.int("job_id"),
                                  usedAt: try r.date("used_at"))
            }
        }
    }
}

extension SQLiteJobStore.SQL {
    /// True for a `footage_uses` row whose job ended `failed` or `cancelled` (its video never published).
    static let footageJobUnpublished = "EXISTS (SELECT 1 FROM jobs WHERE jobs.id = footage_uses.job_id AND jobs.state IN ('failed', 'cancelled'))"

    /// Claims asset ?2 of channel ?1 for job ?3 at ?4, refused (no row returned) while another job
    /// of the channel used it at or after ?5 (NULL: no window) and that job did not end unpublished.
    static let claimFootage = """
        INSERT INTO footage_uses (channel, asset, job_id, used_at) VALUES (?1, ?2, ?3, ?4)
        ON CONFLICT (channel, asset) DO UPDATE SET job_id = excluded.job_id, used_at = excluded.used_at
         WHERE ?5 IS NULL OR footage_uses.job_id = excluded.job_id OR footage_uses.used_at < ?5 OR \(footageJobUnpublished)
        RETURNING asset
        """
}
