import Foundation
import YTAutoCore
import YTAutoSupport

/// Makes the services a channel's pipeline uses, behind their protocols. ``OfflineServices`` is
/// the default; YTAutoApp's ``ProviderServices`` supplies one that honours each channel's `script:`, `tts:`,
/// `images:` and `publisher:` choices.
public protocol ServiceFactory: Sendable {
    /// The script writer. `recent` is the channel's recent scripts, newest first (``ChannelHistory``),
    /// for a writer that avoids repeating them.
    func scriptGenerator(for channel: ChannelConfig, wordsPerSecond: Double, seed: String, recent: [ChannelHistory.Entry]) throws -> any ScriptGenerator
    /// The narration engine, and a name that goes into the sentence cache's key.
    func tts(for channel: ChannelConfig) throws -> (engine: any TTSEngine, name: String)
    func imageGenerator(for channel: ChannelConfig, width: Int, height: Int) throws -> any ImageGenerator
    /// Where the scenes' pictures and clips (and the music) come from instead, if anywhere: the
    /// channel's media library when its `images:` is `library`.
    func footageSource(for channel: ChannelConfig) throws -> (any FootageSource)?
    /// Where the video goes. `folder` is the local publish folder; `context` carries the stage's notes.
    func publisher(for channel: ChannelConfig, job: Job, folder: URL, context: StageContext) throws -> any VideoPublisher
}

/// Everything offline: template scripts, espeak-ng, procedural images, the local publisher.
public struct OfflineServices: ServiceFactory {
    let tools: ToolRunner
    public init(tools: ToolRunner) { self.tools = tools }

    public func scriptGenerator(for channel: ChannelConfig, wordsPerSecond: Double, seed: String, recent: [ChannelHistory.Entry]) throws -> any ScriptGenerator {
        TemplateScriptGenerator(wordsPerSecond: wordsPerSecond, seed: seed, recent: recent)
    }

    public func tts(for channel: ChannelConfig) throws -> (engine: any TTSEngine, name: String) {
        (EspeakTTS(tools: tools, language: channel.spokenLanguage), channel.spokenLanguage == .english ? "espeak" : "espeak-\(channel.spokenLanguage.code)")
    }

    public func imageGenerator(for channel: ChannelConfig, width: Int, height: Int) throws -> any ImageGenerator {
        ProceduralImageGenerator(tools: tools, palette: ChannelStyle.of(channel.type).palette, width: width, height: height)
    }

    public func footageSource(for channel: ChannelConfig) throws -> (any FootageSource)? {
        guard channel.services.images == .library else { return nil }
        guard let folder = channel.mediaLibrary else {
            throw MediaLibraryError(path: "(none)", problem: "is not set: channel \(channel.name) has images: library without media_library")
        }
        return MediaLibrary(root: URL(fileURLWithPath: folder), tools: tools, language: channel.language)
    }

    public func publisher(for channel: ChannelConfig, job: Job, folder: URL, context: StageContext) throws -> any VideoPublisher {
        LocalPublisher(folder: folder)
    }
}
