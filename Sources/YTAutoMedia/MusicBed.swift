import Foundation
import YTAutoCore
import YTAutoSupport

/// A synthesised music bed per mood, from ffmpeg's tone and noise sources.
public struct MusicBed: Sendable {
    let tools: ToolRunner
    public init(tools: ToolRunner) { self.tools = tools }

    /// The filter graph of the bed: tones and noise for `seconds`, faded in and out, 48 kHz stereo.
    public static func graph(mood: ChannelStyle.Mood, seconds: Double) -> String {
        let d = String(format: "%.3f", seconds + 0.5)
        let graph: String
        switch mood {
        case .dread:
            graph = "anoisesrc=color=brown:amplitude=0.35:d=\(d),lowpass=f=180[n];sine=f=55:d=\(d),volume=0.5,tremolo=f=0.25:d=0.6[s];sine=f=82.4:d=\(d),volume=0.25[t];[n][s][t]amix=inputs=3:normalize=0"
        case .bright:
            graph = "sine=f=261.63:d=\(d)[a];sine=f=329.63:d=\(d)[b];sine=f=392:d=\(d)[c];[a][b][c]amix=inputs=3,tremolo=f=2:d=0.4,volume=0.6"
        case .calm:
            graph = "sine=f=220:d=\(d)[a];sine=f=277.18:d=\(d)[b];sine=f=329.63:d=\(d)[c];[a][b][c]amix=inputs=3,tremolo=f=0.5:d=0.3,lowpass=f=1200,volume=0.6"
        }
        let fadeOut = String(format: "%.3f", max(0, seconds - 1.5))
        return graph + ",afade=t=in:d=1.5,afade=t=out:st=\(fadeOut):d=1.5,aformat=sample_rates=48000:channel_layouts=stereo"
    }

    public func make(mood: ChannelStyle.Mood, seconds: Double, outputPath: String) async throws {
        try await tools.run(.ffmpeg, ToolRunner.ffmpegQuiet + [
            "-filter_complex", Self.graph(mood: mood, seconds: seconds),
            "-t", String(format: "%.3f", seconds), outputPath,
        ], timeout: .seconds(300))
    }
}
