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
    public init(index: Int, text: String, topic: String, seconds: Double) {
        self.index = index
        self.text = text
        self.topic = topic
        self.seconds = seconds
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
    public init(kind: Kind, path: String, source: String, tags: [String], matched: [String] = [], seconds: Double? = nil) {
        self.kind = kind
        self.path = path
        self.source = source
        self.tags = tags
        self.matched = matched
        self.seconds = seconds
    }
}

/// Finds footage and music for a video's scenes: the operator's media library (``MediaLibrary``
/// in YTAutoMedia).
public protocol FootageSource: Sendable {
    /// One picture or clip for each scene, in order. `seed` makes the choice repeatable for a job.
    func footage(for scenes: [FootageQuery], seed: String) async throws -> [FootageAsset]
    /// A track for the music bed among those tagged with any of `tags`, or any track; nil when
    /// the source has no music (the bed is then synthesised).
    func music(tags: [String], seed: String) async throws -> FootageAsset?
}
