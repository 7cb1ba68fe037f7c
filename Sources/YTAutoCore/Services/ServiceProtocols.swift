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
