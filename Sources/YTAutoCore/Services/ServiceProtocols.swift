import Foundation

// The seed's service interfaces. Each implementation (the offline defaults and the HTTP
// providers) sits behind one of these; nothing else knows which one runs. The seed's eighth,
// `ContentPipeline.run(channel) → VideoProject`, is the job queue's ``StagedPipeline`` here:
// a job runs stage by stage, each checkpointed, rather than a channel in one call.

/// Writes a script for a topic in a channel's voice: `generate(topic, channel) → Script`.
public protocol ScriptGenerator: Sendable {
    func generate(topic: String, channel: ChannelConfig) async throws -> Script
}

/// Speaks text into an audio file: `synthesize(text, outputPath, voiceID)`.
public protocol TTSEngine: Sendable {
    /// - Returns: the segment with its measured duration.
    func synthesize(text: String, outputPath: URL, voiceID: String) async throws -> AudioSegment
}

/// Makes a scene image from a prompt: `generate(prompt, outputPath)`.
public protocol ImageGenerator: Sendable {
    func generate(prompt: String, outputPath: URL) async throws -> VisualAsset
}

/// Animates a still: `generateFromImage(image, motion, duration)`.
public protocol VideoGenerator: Sendable {
    func generateFromImage(_ image: VisualAsset, motion: Motion, duration: Double, outputPath: URL) async throws -> VisualAsset
}

/// Composes clips, narration, music and captions into the finished video: `compose(project, outputPath)`.
public protocol VideoComposer: Sendable {
    func compose(_ project: VideoProject, outputPath: URL) async throws -> VisualAsset
}

/// Makes the thumbnail: `generate(title, channel, outputPath)`.
public protocol ThumbnailGenerator: Sendable {
    func generate(title: String, channel: ChannelConfig, outputPath: URL) async throws -> VisualAsset
}

/// Where a published video is: its id (YouTube's, or `local:<folder>`) and its URL.
public struct PublishResult: Sendable, Codable, Hashable {
    public var videoID: String
    public var url: String
    public init(videoID: String, url: String) {
        self.videoID = videoID
        self.url = url
    }
}

/// Publishes a finished video: the seed's `YouTubeUploader.upload(video, title, description, tags, thumbnail)`.
/// A publisher puts the video where viewers get it: YouTube (``YouTubeDataAPIUploader`` in YTAutoProviders)
/// or, offline, an output folder (``LocalPublisher``).
public protocol VideoPublisher: Sendable {
    /// Publishes the video with its thumbnail and, where the destination takes one, its captions
    /// (a WebVTT file of the narration).
    func publish(video: URL, title: String, description: String, tags: [String], thumbnail: URL?, captions: URL?) async throws -> PublishResult
}

extension VideoPublisher {
    /// Publishes without captions.
    public func publish(video: URL, title: String, description: String, tags: [String], thumbnail: URL?) async throws -> PublishResult {
        try await publish(video: video, title: title, description: description, tags: tags, thumbnail: thumbnail, captions: nil)
    }
}

/// What a scene needs from a footage source: its words and how long it lasts.
public struct FootageQuery: Sendable, Hashable {
    public var index: Int
    /// The scene's narration.
    public var text: String
    public var topic: String
    public var seconds: Double
    /// What the script's writer said to show for the scene (``Script/visuals``), if it said.
    public var visual: String?
    public init(index: Int, text: String, topic: String, seconds: Double, visual: String? = nil) {
        self.index = index
        self.text = text
        self.topic = topic
        self.seconds = seconds
        self.visual = visual
    }
}

/// A picture, a video clip or a piece of music chosen for a video, with where it came from.
public struct FootageAsset: Sendable, Codable, Hashable {
    public enum Kind: String, Sendable, Codable, Hashable { case image, clip, music }
    public var kind: Kind
    /// The file on this host.
    public var path: String
    /// Who provides it (`library`: the operator's own media library).
    public var source: String
    /// The words it was tagged with, and those it matched.
    public var tags: [String]
    public var matched: [String]
    /// A clip's or a track's length in seconds.
    public var seconds: Double?
    /// Whose it is and under which licence, for footage from a stock provider (none for the
    /// operator's own library).
    public var credit: FootageCredit?
    public init(kind: Kind, path: String, source: String, tags: [String], matched: [String] = [], seconds: Double? = nil,
                credit: FootageCredit? = nil) {
        self.kind = kind
        self.path = path
        self.source = source
        self.tags = tags
        self.matched = matched
        self.seconds = seconds
        self.credit = credit
    }
}

/// Where a stock asset comes from: the provider's id and page, its author, its licence. The
/// description credits it (``FootageCredit/line``), and ``FootageLedger`` keeps it from being
/// used again on the channel too soon (``key``).
public struct FootageCredit: Sendable, Codable, Hashable {
    /// The provider's name as it asks to be credited: `Pexels`, `Pixabay`.
    public var provider: String
    /// The provider's id of the photo or video.
    public var id: String
    public var author: String
    public var authorURL: String?
    /// The asset's page on the provider's site.
    public var page: String
    public var licence: String
    public init(provider: String, id: String, author: String, authorURL: String?, page: String, licence: String) {
        self.provider = provider
        self.id = id
        self.author = author
        self.authorURL = authorURL
        self.page = page
        self.licence = licence
    }

    /// The asset's key in the footage ledger: `pexels:clip:1448735`.
    public func key(kind: FootageAsset.Kind) -> String { "\(provider.lowercased()):\(kind.rawValue):\(id)" }

    /// The credit as the providers ask for it: "Video by NAME on Pexels: PAGE".
    public func line(kind: FootageAsset.Kind) -> String {
        "\(kind == .clip ? "Video" : "Photo") by \(author) on \(provider): \(page)"
    }
}

/// Finds footage and music for a video's scenes: the operator's media library (``MediaLibrary``
/// in YTAutoMedia) or a stock provider (``StockFootageSource`` in YTAutoProviders).
public protocol FootageSource: Sendable {
    /// One picture or clip for each scene of `job`, in order; the same job gets the same choice
    /// when its stage runs again.
    func footage(for scenes: [FootageQuery], job: Int64) async throws -> [FootageAsset]
    /// A track for the music bed among those tagged with any of `tags`, or any track; nil when
    /// the source has no music (the bed is then synthesised).
    func music(tags: [String], job: Int64) async throws -> FootageAsset?
}

/// Which stock footage each channel used, and when (the `footage_uses` table): a stock clip or
/// photo is not used again on the same channel within the channel's `footage_reuse_days`.
public protocol FootageLedger: Sendable {
    /// The keys (``FootageCredit/key(kind:)``) of what `channel` used in the last `days` days,
    /// by the store's clock, in jobs other than `job` (a job's own retry may pick the same again).
    func footageUsed(channel: String, days: Int, excludingJob job: Int64) async throws -> Set<String>
    /// Claims `key` for `job` of `channel`, now, in one write: refused (false) when another job of
    /// the channel used or claimed it in the last `days` days, by the store's clock; the job's own
    /// earlier claim, or any use older than that, moves to `job` and now. `days` 0 always claims.
    /// Two jobs of a channel choosing footage at once cannot both take a clip: the second is refused.
    func claimFootage(channel: String, job: Int64, key: String, days: Int) async throws -> Bool
    /// Records that `job` of `channel` used `keys`, now, whoever used them before (a claim of each
    /// with no reuse window). The engines write them in one transaction (a long video from a media
    /// library names dozens of files); the default claims them one by one.
    func recordFootage(channel: String, job: Int64, keys: [String]) async throws
}

extension FootageLedger {
    public func recordFootage(channel: String, job: Int64, keys: [String]) async throws {
        for key in Set(keys).sorted() { _ = try await claimFootage(channel: channel, job: job, key: key, days: 0) }
    }
}

/// One row of the footage ledger, as `ytauto-admin copy` moves it.
public struct FootageUse: Sendable, Hashable {
    public var channel: String
    public var key: String
    public var jobID: Int64
    public var usedAt: Date
    public init(channel: String, key: String, jobID: Int64, usedAt: Date) {
        self.channel = channel
        self.key = key
        self.jobID = jobID
        self.usedAt = usedAt
    }
}
