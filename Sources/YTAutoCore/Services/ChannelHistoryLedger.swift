import Foundation

/// One video's entry in its channel's history: what its script said and what its thumbnail looks
/// like, so the channel's next videos neither repeat it nor come too near it (the media
/// pipeline's `ChannelHistory`). The script is kept as its JSON, which only the pipeline reads.
public struct ChannelHistoryEntry: Sendable, Hashable {
    public var channel: String
    public var jobID: Int64
    /// When its script was written, by the store's clock (the database server's on PostgreSQL).
    public var at: Date
    public var topic: String
    /// The script, as JSON.
    public var script: String
    /// Its thumbnail's difference hash (16 hex digits), once its thumbnail stage made it.
    public var thumbnailHash: String?

    public init(channel: String, jobID: Int64, at: Date, topic: String, script: String, thumbnailHash: String? = nil) {
        self.channel = channel
        self.jobID = jobID
        self.at = at
        self.topic = topic
        self.script = script
        self.thumbnailHash = thumbnailHash
    }
}

/// Each channel's recent videos, kept in the store (`channel_history`), so that every worker on
/// every host compares a new video with the same ones: a video made on one host is never a near
/// duplicate of one made on another unseen.
///
/// The entries of jobs that failed or were cancelled are kept but not given: their videos were
/// never published, so they neither make a later video a near duplicate nor keep the template
/// writer from their sentences. A job queued again (an operator's retry) counts again.
public protocol ChannelHistoryLedger: Sendable {
    /// The channel's newest `limit` entries, newest first (ties by job, newest first).
    func channelHistory(channel: String, limit: Int) async throws -> [ChannelHistoryEntry]
    /// Records `job`'s script as the channel's newest entry, at the store's clock (replacing an
    /// earlier entry of the job, its thumbnail hash too), then keeps only the channel's newest
    /// `keep` entries; in one write.
    ///
    /// First `check` is given the channel's other newest `keep` entries (every job's but this
    /// one's, newest first), read in the same write under a lock of the channel that every
    /// checked write takes (an import does not: it adds only entries written before); if it
    /// throws, nothing is written and its error is thrown. So of two jobs checked at once against
    /// each other, on any host, the second sees the first: the near-duplicate check cannot be
    /// passed by two twins together.
    func recordChannelHistory(
        channel: String, job: Int64, topic: String, script: String, keep: Int,
        check: @escaping @Sendable ([ChannelHistoryEntry]) throws -> Void
    ) async throws
    /// Sets the thumbnail hash of `job`'s entry; nothing if the channel has no entry for it.
    /// `check` is given the channel's other entries as ``recordChannelHistory(channel:job:topic:script:keep:check:)``
    /// gives them (all of them kept), under the same lock; if it throws, nothing is written.
    func recordChannelHistoryThumbnail(
        _ hash: String, channel: String, job: Int64, check: @escaping @Sendable ([ChannelHistoryEntry]) throws -> Void
    ) async throws
    /// Adds entries kept elsewhere before (an earlier version's files), each with its own time,
    /// where their job has none yet (an entry written meanwhile is newer and wins), then keeps
    /// only each channel's newest `keep`; in one transaction.
    func importChannelHistory(_ entries: [ChannelHistoryEntry], keep: Int) async throws
}

extension ChannelHistoryLedger {
    /// Records `job`'s script with nothing to check (an import, a test).
    public func recordChannelHistory(channel: String, job: Int64, topic: String, script: String, keep: Int) async throws {
        try await recordChannelHistory(channel: channel, job: job, topic: topic, script: script, keep: keep, check: { _ in })
    }

    /// Sets `job`'s thumbnail hash with nothing to check.
    public func recordChannelHistoryThumbnail(_ hash: String, channel: String, job: Int64) async throws {
        try await recordChannelHistoryThumbnail(hash, channel: channel, job: job, check: { _ in })
    }
}
