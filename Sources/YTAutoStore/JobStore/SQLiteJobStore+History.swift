import Foundation
import YTAutoCore

/// The channels' history (``ChannelHistoryLedger``) on SQLite: rows of `channel_history`, the
/// newest of each channel kept.
extension SQLiteJobStore: ChannelHistoryLedger {
    public func channelHistory(channel: String, limit: Int) async throws -> [ChannelHistoryEntry] {
        try await database.read { db in try Self.entries(db, channel: channel, except: nil, limit: limit) }
    }

    // The check reads inside the write transaction: SQLite's one writer at a time is the lock.

    public func recordChannelHistory(
        channel: String, job: Int64, topic: String, script: String, keep: Int,
        check: @escaping @Sendable ([ChannelHistoryEntry]) throws -> Void
    ) async throws {
        try await database.write { [now] db in
            // Its time read under the lock: an entry written after another's wait is newer than it.
            let at = now()
            try check(try Self.entries(db, channel: channel, except: job, limit: keep))
            _ = try db.run("""
                INSERT INTO channel_history (channel, job_id, at, topic, script, thumbnail_hash) VALUES (?, ?, ?, ?, ?, NULL)
                ON CONFLICT (channel, job_id) DO UPDATE SET at = excluded.at, topic = excluded.topic, script = excluded.script,
                                                            thumbnail_hash = NULL
                """, [channel, job, at, topic, script])
            // Only the newest `keep` of the channel stay (an index range of the channel's rows): this
            // entry by name, whatever its time (a clock stepped back), and the newest others.
            _ = try db.run("""
                DELETE FROM channel_history WHERE channel = ?1 AND job_id <> ?3 AND job_id NOT IN (
                    SELECT job_id FROM channel_history WHERE channel = ?1 AND job_id <> ?3 ORDER BY at DESC, job_id DESC LIMIT ?2)
                """, [channel, Int64(max(0, keep - 1)), job])
        }
    }

    public func recordChannelHistoryThumbnail(
        _ hash: String, channel: String, job: Int64, check: @escaping @Sendable ([ChannelHistoryEntry]) throws -> Void
    ) async throws {
        try await database.write { db in
            try check(try Self.entries(db, channel: channel, except: job, limit: nil))
            _ = try db.run("UPDATE channel_history SET thumbnail_hash = ? WHERE channel = ? AND job_id = ?", [hash, channel, job])
        }
    }

    public func importChannelHistory(_ entries: [ChannelHistoryEntry], keep: Int) async throws {
        for e in entries { _ = try Timestamp.checked(e.at, "the time of job \(e.jobID)'s history entry") }
        try await database.write { db in
            for e in entries {
                _ = try db.run("""
                    INSERT INTO channel_history (channel, job_id, at, topic, script, thumbnail_hash) VALUES (?, ?, ?, ?, ?, ?)
                    ON CONFLICT (channel, job_id) DO NOTHING
                    """, [e.channel, e.jobID, e.at, e.topic, e.script, e.thumbnailHash])
            }
            for channel in Set(entries.map(\.channel)) {
                _ = try db.run("""
                    DELETE FROM channel_history WHERE channel = ?1 AND job_id NOT IN (
                        SELECT job_id FROM channel_history WHERE channel = ?1 ORDER BY at DESC, job_id DESC LIMIT ?2)
                    """, [channel, Int64(max(1, keep))])
            }
        }
    }

    /// The channel's newest `limit` entries (nil: all), newest first, but `job`'s if one is given,
    /// and but those of jobs that failed or were cancelled (``ChannelHistoryLedger``).
    static func entries(_ db: Connection, channel: String, except job: Int64?, limit: Int?) throws -> [ChannelHistoryEntry] {
        // `job_id IS NOT NULL` holds for every row; LIMIT -1 is no limit.
        try db.query("""
            SELECT h.channel, h.job_id, h.at, h.topic, h.script, h.thumbnail_hash FROM channel_history h
             WHERE h.channel = ? AND h.job_id IS NOT ?
               AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.id = h.job_id AND j.state IN ('failed', 'cancelled'))
             ORDER BY h.at DESC, h.job_id DESC LIMIT ?
            """, [channel, job, limit.map { Int64(max(0, $0)) } ?? -1]).map(Self.historyEntry)
    }

    static func historyEntry(_ row: Row) throws -> ChannelHistoryEntry {
        let r = StoredRow(row, table: "channel_history", key: "job_id", as: "channel history entry")
        return ChannelHistoryEntry(channel: try r.string("channel"), jobID: try r.int("job_id"), at: try r.date("at"),
                                   topic: try r.string("topic"), script: try r.string("script"),
                                   thumbnailHash: try r.optionalString("thumbnail_hash"))
    }

    /// Every row, for `ytauto-admin copy`.
    func channelHistoryRows() async throws -> [ChannelHistoryEntry] {
        try await database.read { db in
            try db.query("SELECT channel, job_id, at, topic, script, thumbnail_hash FROM channel_history ORDER BY channel, job_id")
                .map(Self.historyEntry)
        }
    }
}
