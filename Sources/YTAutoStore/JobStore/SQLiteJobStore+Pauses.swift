import Foundation
import YTAutoCore

/// Paused channels (``ChannelPause``), on SQLite: rows of `channel_pauses`.
extension SQLiteJobStore {
    public func pause(channel: String, by actor: String) async throws -> (pause: ChannelPause, isNew: Bool) {
        let now = self.now()
        return try await database.write { db in
            let inserted = try db.run(
                "INSERT INTO channel_pauses (channel, paused_at, paused_by) VALUES (?, ?, ?) ON CONFLICT (channel) DO NOTHING",
                [channel, now, actor])
            guard let pause = try Self.pause(db, channel: channel) else {
                throw JobStoreError.invalidArgument("channel \(channel): the pause was not recorded")
            }
            return (pause, inserted == 1)
        }
    }

    public func resume(channel: String) async throws -> ChannelPause? {
        let ended: ChannelPause? = try await database.write { db in
            guard let pause = try Self.pause(db, channel: channel) else { return nil }
            try db.run("DELETE FROM channel_pauses WHERE channel = ?", [channel])
            return pause
        }
        // Its queued jobs may be leased again: idle workers look now, not at their next poll.
        if ended != nil { database.signalWork() }
        return ended
    }

    public func pausedChannels() async throws -> [ChannelPause] {
        try await database.read { db in
            try db.query("SELECT channel, paused_at, paused_by FROM channel_pauses ORDER BY channel").map(Self.channelPause)
        }
    }

    static func pause(_ db: Connection, channel: String) throws -> ChannelPause? {
        try db.queryOne("SELECT channel, paused_at, paused_by FROM channel_pauses WHERE channel = ?", [channel]).map(Self.channelPause)
    }

    static func channelPause(_ row: Row) throws -> ChannelPause {
        let r = StoredRow(row, table: "channel_pauses", key: "channel", as: "channel pause")
        return ChannelPause(channel: try r.string("channel"), pausedAt: try r.date("paused_at"), pausedBy: try r.string("paused_by"))
    }

    /// The channels a lease (or the look for the next due job) may take jobs of, when it must ask
    /// channel by channel; nil when one look in lease order over every channel will do.
    ///
    /// With no channel paused (the common case, one read of an empty table) that is `asked` as
    /// given. With some paused: `asked` without them, or, when a worker takes every channel,
    /// the channels with queued jobs (from `job_counts`) without them, each then asked by an
    /// index seek: a lease stays one seek a channel however many jobs a paused channel holds.
    static func leasableChannels(_ db: Connection, asked: [String]?) throws -> [String]? {
        let paused = Set(try db.query("SELECT channel FROM channel_pauses").map {
            try StoredRow($0, table: "channel_pauses", key: "channel", as: "channel pause").string("channel")
        })
        if paused.isEmpty { return asked.map { Array(Set($0)) } }
        let candidates = try asked ?? db.query("SELECT channel FROM job_counts WHERE state = 'queued' AND n > 0").map {
            try StoredRow($0, table: "job_counts", key: "channel", as: "job count").string("channel")
        }
        return Set(candidates).subtracting(paused).sorted()
    }
}
