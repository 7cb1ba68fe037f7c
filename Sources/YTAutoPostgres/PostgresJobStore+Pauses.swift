import Foundation
import PostgresNIO
import YTAutoCore

/// Paused channels (``ChannelPause``), on PostgreSQL: rows of `channel_pauses`.
///
/// A lease leaves a paused channel's jobs where they are with `NOT ytauto_channel_paused(channel)`
/// (a function, so that the planner keeps the lease index's order). It looks at the first jobs in
/// lease order, and when a paused channel's backlog fills those, at the lanes of the channels not
/// paused (``PostgresJobStore/LeasePick``): a paused backlog costs a lease a second statement,
/// never a read of each paused job (docs/postgresql.md).
extension PostgresJobStore {
    public func pause(channel: String, by actor: String) async throws -> (pause: ChannelPause, isNew: Bool) {
        try await pool.transaction { tx in
            let now = try await self.now(tx)
            // `run` counts the rows returned: one when this call made the pause.
            let inserted = try await tx.run("""
                INSERT INTO channel_pauses (channel, paused_at, paused_by) VALUES (\(channel), \(now), \(actor))
                ON CONFLICT (channel) DO NOTHING RETURNING channel
                """)
            guard let pause = try await Self.pause(tx.queryOne, channel: channel) else {
                throw JobStoreError.invalidArgument("channel \(channel): the pause was not recorded")
            }
            return (pause, inserted == 1)
        }
    }

    public func resume(channel: String) async throws -> ChannelPause? {
        let ended: ChannelPause? = try await pool.transaction { tx in
            guard let pause = try await Self.pause(tx.queryOne, channel: channel) else { return nil }
            try await tx.run("DELETE FROM channel_pauses WHERE channel = \(channel)")
            // Idle workers on every host look again when this commits (a lease wakes on the same word).
            try await tx.run("SELECT pg_notify('ytauto_work', '')")
            return pause
        }
        if ended != nil { signal.bump() }
        return ended
    }

    public func pausedChannels() async throws -> [ChannelPause] {
        try await pool.query("SELECT channel, paused_at, paused_by FROM channel_pauses ORDER BY channel").map(Self.channelPause)
    }

    static func pause(_ queryOne: (PostgresQuery) async throws -> PGRow?, channel: String) async throws -> ChannelPause? {
        try await queryOne("SELECT channel, paused_at, paused_by FROM channel_pauses WHERE channel = \(channel)").map(Self.channelPause)
    }

    static func channelPause(_ r: PGRow) throws -> ChannelPause {
        ChannelPause(channel: try r.required("channel", r.string), pausedAt: try r.required("paused_at", r.date),
                     pausedBy: try r.required("paused_by", r.string))
    }
}
