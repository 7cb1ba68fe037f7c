import Foundation
import PostgresNIO
import YTAutoCore

/// The channels' history (``ChannelHistoryLedger``) on PostgreSQL: rows of `channel_history`, the
/// newest of each channel kept, timed by the database server's clock.
extension PostgresJobStore: ChannelHistoryLedger {
    public func channelHistory(channel: String, limit: Int) async throws -> [ChannelHistoryEntry] {
        try await pool.query(Self.entries(channel: channel, except: nil, limit: limit)).map(Self.historyEntry)
    }

    public func recordChannelHistory(
        channel: String, job: Int64, topic: String, script: String, keep: Int,
        check: @escaping @Sendable ([ChannelHistoryEntry]) throws -> Void
    ) async throws {
        let refused = try await pool.transaction { [self] tx -> (any Error)? in
            if let refusal = Self.refusal(check, try await Self.lockedOtherEntries(tx, channel: channel, job: job, limit: keep)) {
                return refusal
            }
            // Its time taken under the channel's lock (`clock_timestamp()`, not `now()`, the
            // transaction's start): an entry written after another's wait is newer than it.
            let nowBind = self.nowBind
            // One statement: the entry, then all but the channel's newest `keep` go. The delete sees
            // the table as it was before the entry, so it leaves the entry's job out by name (kept)
            // and keeps the newest `keep - 1` of the others.
            try await tx.run("""
            WITH t AS (SELECT coalesce(\(nowBind)::timestamptz, date_trunc('milliseconds', clock_timestamp())) AS now),
            recorded AS (
                INSERT INTO channel_history (channel, job_id, at, topic, script, thumbnail_hash)
                SELECT \(channel), \(job), t.now, \(topic), \(script), NULL FROM t
                ON CONFLICT (channel, job_id) DO UPDATE SET at = excluded.at, topic = excluded.topic, script = excluded.script,
                                                            thumbnail_hash = NULL
            )
            DELETE FROM channel_history h WHERE h.channel = \(channel) AND h.job_id <> \(job) AND h.job_id NOT IN (
                SELECT job_id FROM channel_history WHERE channel = \(channel) AND job_id <> \(job)
                 ORDER BY at DESC, job_id DESC LIMIT \(Int64(max(0, keep - 1))))
            """)
            return nil
        }
        if let refused { throw refused }
    }

    public func recordChannelHistoryThumbnail(
        _ hash: String, channel: String, job: Int64, check: @escaping @Sendable ([ChannelHistoryEntry]) throws -> Void
    ) async throws {
        let refused = try await pool.transaction { tx -> (any Error)? in
            if let refusal = Self.refusal(check, try await Self.lockedOtherEntries(tx, channel: channel, job: job, limit: nil)) {
                return refusal
            }
            try await tx.run("UPDATE channel_history SET thumbnail_hash = \(hash) WHERE channel = \(channel) AND job_id = \(job)")
            return nil
        }
        if let refused { throw refused }
    }

    /// What `check` throws for `entries`, if anything: returned rather than thrown inside the
    /// transaction (which has written nothing yet and commits its reads), so the caller gets the
    /// check's own error, not one the pool made of it.
    static func refusal(_ check: ([ChannelHistoryEntry]) throws -> Void, _ entries: [ChannelHistoryEntry]) -> (any Error)? {
        do { try check(entries) } catch { return error }
        return nil
    }

    /// Takes the channel's history lock for the rest of the transaction (every checked write takes
    /// it, on every host), then reads the channel's entries other than `job`'s, newest first.
    static func lockedOtherEntries(_ tx: PGTransaction, channel: String, job: Int64, limit: Int?) async throws -> [ChannelHistoryEntry] {
        try await tx.run("SELECT pg_advisory_xact_lock(hashtextextended(\("ytauto-history:\(channel)"), 0))")
        return try await tx.query(entries(channel: channel, except: job, limit: limit)).map(Self.historyEntry)
    }

    /// The channel's newest `limit` entries (nil: all), newest first, but `job`'s if one is given.
    static func entries(channel: String, except job: Int64?, limit: Int?) -> PostgresQuery {
        // `job_id IS DISTINCT FROM NULL` holds for every row; LIMIT NULL is no limit.
        """
        SELECT h.channel, h.job_id, h.at, h.topic, h.script, h.thumbnail_hash FROM channel_history h
         WHERE h.channel = \(channel) AND h.job_id IS DISTINCT FROM \(job)::bigint
           AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.id = h.job_id AND j.state IN ('failed', 'cancelled'))
         ORDER BY h.at DESC, h.job_id DESC
         LIMIT \(limit.map { Int64(max(0, $0)) })
        """
    }

    public func importChannelHistory(_ entries: [ChannelHistoryEntry], keep: Int) async throws {
        for e in entries { _ = try Timestamp.checked(e.at, "the time of job \(e.jobID)'s history entry") }
        try await pool.transaction { tx in
            for e in entries {
                try await tx.run("""
                    INSERT INTO channel_history (channel, job_id, at, topic, script, thumbnail_hash)
                    VALUES (\(e.channel), \(e.jobID), \(e.at.roundedToMilliseconds), \(e.topic), \(e.script), \(e.thumbnailHash))
                    ON CONFLICT (channel, job_id) DO NOTHING
                    """)
            }
            for channel in Set(entries.map(\.channel)).sorted() {
                try await tx.run("""
                    DELETE FROM channel_history WHERE channel = \(channel) AND job_id NOT IN (
                        SELECT job_id FROM channel_history WHERE channel = \(channel) ORDER BY at DESC, job_id DESC LIMIT \(Int64(max(1, keep))))
                    """)
            }
        }
    }

    static func historyEntry(_ r: PGRow) throws -> ChannelHistoryEntry {
        let row = r.named(table: "channel_history", row: "a channel history entry")
        return ChannelHistoryEntry(channel: try row.required("channel", row.string), jobID: try row.required("job_id", row.int),
                                   at: try row.required("at", row.date), topic: try row.required("topic", row.string),
                                   script: try row.required("script", row.string), thumbnailHash: try row.string("thumbnail_hash"))
    }

    /// Every row, for `ytauto-admin copy`.
    func channelHistoryRows() async throws -> [ChannelHistoryEntry] {
        try await pool.query("SELECT channel, job_id, at, topic, script, thumbnail_hash FROM channel_history ORDER BY channel, job_id")
            .map(Self.historyEntry)
    }
}
