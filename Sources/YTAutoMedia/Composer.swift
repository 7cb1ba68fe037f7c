import Foundation
import YTAutoCore

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
    /// normalised in two passes (measure, then a linear pass into AAC, encoded once).
    ///
    /// A reusable item keyed by both inputs' checksums: the clips stage makes it while the picture
    /// renders, and ``compose(_:outputPath:)`` then finds it done; made by either, it is made once.
    public func soundtrack(narration: String, music: String, total: Double, folder work: URL) async throws -> String {
        let audio = work.appending(path: "audio.m4a").path
        let key = "soundtrack|\(try Files.artifact(narration).sha256)|\(try Files.artifact(music).sha256)|\(Self.targetLUFS)"
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
                    + ":offset=\(measured.offset):linear=true,aformat=sample_rates=48000:channel_layouts=stereo",
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
public struct CompositionInputError: VideoCompositionError {
    public let message: String
    public var code: String { "video.bad_input" }
    public var isRetryable: Bool { false }
}

/// The QA gate found the video unfit to publish.
public struct QualityGateError: VideoCompositionError {
    public let issues: [String]
    public var code: String { "video.qa_failed" }
    public var message: String { "the video failed its checks: " + issues.joined(separator: "; ") }
    public var isRetryable: Bool { false }
}

/// Checks a composed video before it may be published.
public struct QualityGate: Sendable {
    public struct Report: Sendable, Codable, Hashable {
        public var duration: Double
        public var width: Int
        public var height: Int
        public var fps: Double
        public var integratedLUFS: Double
        public var worstCaptionOffsetMS: Double
        public var blackStretches: Int
        public var silentStretches: Int
    }

    let tools: ToolRunner
    public init(tools: ToolRunner) { self.tools = tools }

    /// - Throws: ``QualityGateError`` listing every check that failed.
    public func check(video: String, format: VideoFormat, duration range: ChannelConfig.DurationRange, captions: String, expected cues: [Captions.Cue]) async throws -> Report {
        var issues: [String] = []
        let probe = try await tools.probe(video)
        let streams = probe["streams"] as? [[String: Any]] ?? []
        let v = streams.first { $0["codec_type"] as? String == "video" }
        let a = streams.first { $0["codec_type"] as? String == "audio" }
        let duration = Double((probe["format"] as? [String: Any])?["duration"] as? String ?? "") ?? 0
        let width = v?["width"] as? Int ?? 0, height = v?["height"] as? Int ?? 0
        let rate = (v?["r_frame_rate"] as? String ?? "0/1").split(separator: "/").compactMap { Double($0) }
        let fps = rate.count == 2 && rate[1] > 0 ? rate[0] / rate[1] : 0
        if v?["codec_name"] as? String != "h264" { issues.append("the video stream is \(v?["codec_name"] as? String ?? "missing"), not h264") }
        if a?["codec_name"] as? String != "aac" { issues.append("the audio stream is \(a?["codec_name"] as? String ?? "missing"), not aac") }
        if width != format.width || height != format.height { issues.append("the picture is \(width)×\(height), not \(format.width)×\(format.height)") }
        if abs(fps - Double(VideoFormat.framesPerSecond)) > 0.01 { issues.append("the frame rate is \(fps), not \(VideoFormat.framesPerSecond)") }
        if duration < Double(range.min) || duration > Double(range.max) {
            issues.append(String(format: "it lasts %.1f s; the channel wants %d-%d s", duration, range.min, range.max))
        }
        // One pass for loudness and silence over all the sound, and for black over the picture's
        // keyframes only: each segment of the picture starts with one, and x264 puts one at least
        // every 250 frames, so a black scene shows on its keyframes. Decoding every frame of a
        // 10-minute 1080p video took 50 CPU seconds; the keyframes take a twentieth of that.
        let scan = try await tools.run(.ffmpeg, ["-nostdin", "-hide_banner", "-nostats", "-skip_frame:v", "nokey", "-i", video,
                                                  "-vf", "blackdetect=d=0:pix_th=0.04", "-af", "silencedetect=n=-50dB:d=2,ebur128=framelog=verbose",
                                                  "-f", "null", "-"], timeout: .seconds(Int64(300 + duration * 5)))
        let lufs = Self.integratedLoudness(scan.stderr)
        if let lufs {
            if abs(lufs - FFmpegComposer.targetLUFS) > 1 { issues.append(String(format: "integrated loudness is %.1f LUFS, not %.0f ± 1", lufs, FFmpegComposer.targetLUFS)) }
        } else {
            issues.append("the loudness could not be measured")
        }
        let black = scan.stderr.components(separatedBy: "black_start").count - 1
        let silent = scan.stderr.components(separatedBy: "silence_start").count - 1
        if black > 0 { issues.append("\(black) black stretch(es) on the keyframes") }
        if silent > 0 { issues.append("\(silent) silent stretch(es) of 2 s or more") }
        // Captions against the sentence boundaries of the narration.
        let times = Captions.parseTimes((try? String(contentsOfFile: captions, encoding: .utf8)) ?? "")
        var worst = 0.0
        if times.count != cues.count {
            issues.append("the captions have \(times.count) cues for \(cues.count) sentences")
        } else {
            for (t, c) in zip(times, cues) { worst = max(worst, abs(t.start - c.start), abs(t.end - c.end)) }
            if worst > 0.1 { issues.append(String(format: "a caption is %.0f ms off its sentence", worst * 1000)) }
        }
        if !issues.isEmpty { throw QualityGateError(issues: issues) }
        return Report(duration: duration, width: width, height: height, fps: fps, integratedLUFS: lufs ?? 0,
                      worstCaptionOffsetMS: worst * 1000, blackStretches: black, silentStretches: silent)
    }

    /// The "I: -14.0 LUFS" of ebur128's summary.
    static func integratedLoudness(_ stderr: String) -> Double? {
        guard let summary = stderr.range(of: "Summary:", options: .backwards) else { return nil }
        for line in stderr[summary.upperBound...].split(separator: "\n") {
            let t = line.trimmingCharacters(in: .whitespaces)
            if t.hasPrefix("I:") {
                return Double(t.dropFirst(2).trimmingCharacters(in: .whitespaces).split(separator: " ").first ?? "")
            }
        }
        return nil
    }
}
