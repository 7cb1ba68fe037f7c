import Foundation
import PostgresNIO
import YTAutoCore

/// The footage ledger (``FootageLedger``) on PostgreSQL: rows of `footage_uses`, one a channel
/// and asset, with the database server's clock.
extension PostgresJobStore: FootageLedger {
    public func footageUsed(channel: String, days: Int, excludingJob job: Int64) async throws -> Set<String> {
        // 0 days: the channel may use anything again.
        guard days > 0 else { return [] }
        return Set(try await pool.query("""
            SELECT asset FROM footage_uses
             WHERE channel = \(channel) AND used_at >= coalesce(\(nowBind)::timestamptz, now()) - \(days)::int * interval '1 day' AND job_id <> \(job)
            """).map { try $0.required("asset", $0.string) })
    }

    public func recordFootage(channel: String, job: Int64, keys: [String]) async throws {
        guard !keys.isEmpty else { return }
        try await pool.transaction { tx in
            let now = try await self.now(tx)
            for key in Set(keys).sorted() {
                try await tx.run("""
                    INSERT INTO footage_uses (channel, asset, job_id, used_at) VALUES (\(channel), \(key), \(job), \(now))
                    ON CONFLICT (channel, asset) DO UPDATE SET job_id = excluded.job_id, used_at = excluded.used_at
                    """)
            }
        }
    }

    /// Every row, for `ytauto-admin copy`.
    func footageUses() async throws -> [FootageUse] {
        try await pool.query("SELECT channel, asset, job_id, used_at FROM footage_uses ORDER BY channel, asset").map { r in
            FootageUse(channel: try r.required("channel", r.string), key: try r.required("asset", r.string),
                       jobID: try r.required("job_id", r.int), usedAt: try r.required("used_at", r.date))
        }
    }
}
