import Foundation
import YTAutoCore
import YTAutoSupport

/// Escapes a path for use as an ffmpeg filter option value.
public func filterPath(_ path: String) -> String {
    var out = ""
    for ch in path {
        if "\\:',;[]=".contains(ch) { out += "\\\\" }
        out.append(ch)
    }
    return out
}

/// Composes the finished video with ffmpeg: the picture's segments joined, with the sound track
/// (the narration over the music ducked under it, loudness normalised to −14 LUFS in two passes,
/// AAC), into an H.264 + AAC MP4 with faststart.
///
/// `project.clips` are the picture's segments in order, captions and crossfades already in them
/// (``PictureRenderer``); they are joined by stream copy, and the audio is encoded once and muxed
/// by stream copy, so no frame is encoded twice and memory stays flat however long the video is.
public struct FFmpegComposer: VideoComposer {
    let tools: ToolRunner
    let style: ChannelStyle
    public static let targetLUFS = -14.0
    /// The highest true peak the sound may reach, in dBTP: YouTube's ceiling. A peak above it
    /// clips in a player's decoder (and in YouTube's own re-encoding).
    public static let truePeakCeiling = -1.0
    /// The sample peak the soundtrack is limited to after normalising, as a linear gain (−2 dBFS):
    /// loudnorm aims at −1.5 dBTP, but the AAC encoder overshoots (the samples' 3.5-minute horror
    /// video measured −0.99 dBTP, a narration with sharp peaks +0.4), so a limiter below it leaves
    /// the margin the encoder takes (−1.5 dBTP or lower on both).
    static let limiterCeiling = 0.794

    public init(tools: ToolRunner, style: ChannelStyle) {
        self.tools = tools
        self.style = style
    }

    public func compose(_ project: VideoProject, outputPath: URL) async throws -> VisualAsset {
        guard let narration = project.narrationPath, let music = project.musicPath, !project.clips.isEmpty else {
            throw CompositionInputError(message: "the project lacks its picture segments, narration or music")
        }
        let total = project.narration.reduce(0) { $0 + $1.duration }
        let work = outputPath.deletingLastPathComponent()
        let audio = try await soundtrack(narration: narration, music: music, total: total, folder: work)
        // The picture's segments (made by the clips stage), joined by stream copy with the audio:
        // nothing is encoded twice.
        let list = work.appending(path: "segments.txt")
        try await Files.write(Data(project.clips.map { "file '\($0.path.replacingOccurrences(of: "'", with: "'\\''"))'" }.joined(separator: "\n").utf8), to: list.path)
        _ = try await Files.atomically(outputPath.path) { tmp in
            try await tools.run(.ffmpeg, ToolRunner.ffmpegQuiet + [
                "-f", "concat", "-safe", "0", "-i", list.path, "-i", audio,
                "-map", "0:v", "-map", "1:a", "-c", "copy", "-t", String(format: "%.3f", total), "-movflags", "+faststart", tmp,
            ], timeout: .seconds(Int64(300 + total)))
        }
        return VisualAsset(path: outputPath.path, type: .video, duration: total)
    }

    /// The finished sound, `<folder>/audio.m4a`: the narration over the ducked music bed, loudness
    /// normalised in two passes (measure, then a linear pass into AAC, encoded once), its peaks
    /// limited below ``truePeakCeiling``.
    ///
    /// A reusable item keyed by both inputs' checksums: the clips stage makes it while the picture
    /// renders, and ``compose(_:outputPath:)`` then finds it done; made by either, it is made once.
    public func soundtrack(narration: String, music: String, total: Double, folder work: URL) async throws -> String {
        let audio = work.appending(path: "audio.m4a").path
        let key = "soundtrack|\(try Files.artifact(narration).sha256)|\(try Files.artifact(music).sha256)|\(Self.targetLUFS)|limit \(Self.limiterCeiling)"
        try await Files.item(audio, key: key) { out in
            // 1. The mix: narration over the ducked music bed.
            let mix = work.appending(path: "mix.wav").path
            try await Files.atomically(mix) { tmp in
                try await tools.run(.ffmpeg, ToolRunner.ffmpegQuiet + [
                    "-i", narration, "-i", music, "-filter_complex",
                    "[0:a]aformat=sample_rates=48000:channel_layouts=stereo,asplit=2[nar][key];"
                        + "[1:a]volume=-14dB[bed];[bed][key]sidechaincompress=threshold=0.02:ratio=10:attack=15:release=450[duck];"
                        + "[nar][duck]amix=inputs=2:duration=first:normalize=0[out]",
                    "-map", "[out]", "-c:a", "pcm_s16le", tmp,
                ], timeout: .seconds(600))
            }
            // 2. Loudness, first pass: measure; second pass (linear) into the AAC track.
            let measured = try await measureLoudness(mix)
            try await tools.run(.ffmpeg, ToolRunner.ffmpegQuiet + [
                "-i", mix, "-af",
                "loudnorm=I=\(Self.targetLUFS):TP=-1.5:LRA=11"
                    + ":measured_I=\(measured.i):measured_TP=\(measured.tp):measured_LRA=\(measured.lra):measured_thresh=\(measured.thresh)"
                    + ":offset=\(measured.offset):linear=true,aformat=sample_rates=48000:channel_layouts=stereo"
                    + ",alimiter=limit=\(Self.limiterCeiling):level=false",
                "-c:a", "aac", "-b:a", "192k", "-f", "mp4", out,
            ], timeout: .seconds(Int64(600 + total * 2)))
            try? FileManager.default.removeItem(atPath: mix)
        }
        return audio
    }

    struct Loudness { var i, tp, lra, thresh, offset: String }

    func measureLoudness(_ path: String) async throws -> Loudness {
        let out = try await tools.run(.ffmpeg, ["-nostdin", "-hide_banner", "-nostats", "-i", path,
                                                 "-af", "loudnorm=I=\(Self.targetLUFS):TP=-1.5:LRA=11:print_format=json", "-f", "null", "-"], timeout: .seconds(600))
        guard let start = out.stderr.lastIndex(of: "{"), let end = out.stderr.lastIndex(of: "}"),
              let json = try? JSONSerialization.jsonObject(with: Data(out.stderr[start...end].utf8)) as? [String: String],
              let i = json["input_i"], let tp = json["input_tp"], let lra = json["input_lra"], let th = json["input_thresh"], let off = json["target_offset"]
        else {
            throw FFmpegError(command: ["ffmpeg", "-i", path, "-af", "loudnorm"], exitStatus: 0, stderrTail: "no loudness measurement in the output")
        }
        // A silent input measures -inf; loudnorm then cannot normalise, and the QA gate says so.
        return Loudness(i: i, tp: tp, lra: lra, thresh: th, offset: off)
    }
}

/// The composer was called without what it needs.
public struct CompositionInputError: YTAutoError {
    public let message: String
    public var code: String { "video.bad_input" }
    public var isRetryable: Bool { false }
}
