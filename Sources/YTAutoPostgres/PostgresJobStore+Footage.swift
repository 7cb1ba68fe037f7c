import Foundation
import PostgresNIO
import YTAutoCore

/// The footage ledger (``FootageLedger``) on PostgreSQL: rows of `footage_uses`, one a channel
/// and asset, with the database server's clock. A use by a job that ended `failed` or `cancelled`
/// keeps nothing from other jobs, as on SQLite.
extension PostgresJobStore: FootageLedger {
    public func footageUsed(channel: String, days: Int, excludingJob job: Int64) async throws -> Set<String> {
        // 0 days: the channel may use anything again.
        guard days > 0 else { return [] }
        return Set(try await pool.query("""
            SELECT asset FROM footage_uses
             WHERE channel = \(channel) AND used_at >= coalesce(\(nowBind)::timestamptz, now()) - \(days)::int * interval '1 day' AND job_id <> \(job)
               AND NOT \(unescaped: Self.footageJobUnpublished)
            """).map { try $0.required("asset", $0.string) })
    }

    public func claimFootage(channel: String, job: Int64, key: String, days: Int) async throws -> Bool {
        // Another job's use at or after now - days keeps the key from this job; 0 days: no window.
        try await pool.queryOne("""
            WITH t AS (SELECT coalesce(\(nowBind)::timestamptz, date_trunc('milliseconds', now())) AS now)
            INSERT INTO footage_uses (channel, asset, job_id, used_at) SELECT \(channel), \(key), \(job), t.now FROM t
            ON CONFLICT (channel, asset) DO UPDATE SET job_id = excluded.job_id, used_at = excluded.used_at
             WHERE \(days)::int <= 0 OR footage_uses.job_id = excluded.job_id
                OR footage_uses.used_at < excluded.used_at - \(days)::int * interval '1 day'
                OR \(unescaped: Self.footageJobUnpublished)
            RETURNING asset
            """) != nil
    }

    /// Every key in one statement.
    public func recordFootage(channel: String, job: Int64, keys: [String]) async throws {
        let unique = Set(keys).sorted()  // a statement may not change one row twice
        guard !unique.isEmpty else { return }
        _ = try await pool.query("""
            WITH t AS (SELECT coalesce(\(nowBind)::timestamptz, date_trunc('milliseconds', now())) AS now)
            INSERT INTO footage_uses (channel, asset, job_id, used_at) SELECT \(channel), k, \(job), t.now FROM t, unnest(\(unique)::text[]) AS k
            ON CONFLICT (channel, asset) DO UPDATE SET job_id = excluded.job_id, used_at = excluded.used_at
            """)
    }

    /// Every row, for `ytauto-admin copy`.
    func footageUses() async throws -> [FootageUse] {
        try await pool.query("SELECT channel, asset, job_id, used_at FROM footage_uses ORDER BY channel, asset").map { r in
            FootageUse(channel: try r.required("channel", r.string), key: try r.required("asset", r.string),
                       jobID: try r.required("job_id", r.int), usedAt: try r.required("used_at", r.date))
        }
    }
}

extension PostgresJobStore {
    /// True for a `footage_uses` row whose job ended `failed` or `cancelled` (its video never published).
    static let footageJobUnpublished = "EXISTS (SELECT 1 FROM jobs WHERE jobs.id = footage_uses.job_id AND jobs.state IN ('failed', 'cancelled'))"
}
