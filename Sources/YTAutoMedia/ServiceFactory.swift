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
        (EspeakTTS(tools: tools), "espeak")
    }

    public func imageGenerator(for channel: ChannelConfig, width: Int, height: Int) throws -> any ImageGenerator {
        ProceduralImageGenerator(tools: tools, palette: ChannelStyle.of(channel.type).palette, width: width, height: height)
    }

    public func publisher(for channel: ChannelConfig, job: Job, folder: URL, context: StageContext) throws -> any VideoPublisher {
        LocalPublisher(folder: folder)
    }
}
