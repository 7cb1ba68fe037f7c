import Foundation
import YTAutoCore

/// A voice id that no engine knows.
public struct UnknownVoiceError: TTSError {
    public let voiceID: String
    public var code: String { "tts.unknown_voice" }
    public var message: String { "voice '\(voiceID)' is not known; use one of \(EspeakVoice.known.joined(separator: ", "))" }
    public var isRetryable: Bool { false }
}

/// Narration with espeak-ng, one file per call; the duration is measured by ffprobe.
public struct EspeakTTS: TTSEngine {
    let tools: ToolRunner

    public init(tools: ToolRunner) { self.tools = tools }

    public func synthesize(text: String, outputPath: URL, voiceID: String) async throws -> AudioSegment {
        guard let v = EspeakVoice.named(voiceID) else { throw UnknownVoiceError(voiceID: voiceID) }
        // The text goes through a file, so nothing in it is read as an option.
        let textFile = Files.temporary(for: outputPath.path + ".txt")
        try Data(text.utf8).write(to: URL(fileURLWithPath: textFile))
        defer { try? FileManager.default.removeItem(atPath: textFile) }
        try await tools.run(.espeakNG, ["-v", v.voice, "-s", String(v.speed), "-p", String(v.pitch), "-w", outputPath.path, "-f", textFile], timeout: .seconds(120))
        let duration = try await tools.duration(of: outputPath.path)
        return AudioSegment(
            content: text, voiceSettings: VoiceSettings(voiceID: voiceID, rate: Double(v.speed) / 175, pitch: Double(v.pitch) / 50),
            duration: duration, path: outputPath.path)
    }

    /// Words a second this voice speaks when each sentence is synthesised alone (pauses included),
    /// measured on a calibration passage.
    public func measureRate(voiceID: String, scratch: URL) async throws -> Double {
        let passage = [
            "The quick brown fox jumps over the lazy dog near the quiet river bank.",
            "Every morning she walked to the market and bought fresh bread for the family.",
            "Numbers tell a story, but only if somebody takes the time to read them.",
        ]
        var words = 0
        var seconds = 0.0
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        for (i, s) in passage.enumerated() {
            let seg = try await synthesize(text: s, outputPath: scratch.appending(path: "calibrate-\(i).wav"), voiceID: voiceID)
            words += Script.countWords(s)
            seconds += seg.duration
        }
        return Double(words) / seconds
    }
}

/// Scene images made procedurally with ffmpeg's sources and filters: a gradient field in the
/// channel's palette, soft light shapes, grain and a vignette. The same prompt gives the same image.
public struct ProceduralImageGenerator: ImageGenerator {
    let tools: ToolRunner
    let palette: [String]
    let width: Int
    let height: Int

    public init(tools: ToolRunner, palette: [String], width: Int, height: Int) {
        self.tools = tools
        self.palette = palette
        self.width = width
        self.height = height
    }

    public func generate(prompt: String, outputPath: URL) async throws -> VisualAsset {
        var rng = SplitMix64(text: prompt)
        let colors = palette.shuffled(using: &rng)
        func pos(_ n: Int) -> Int { Int.random(in: 0..<n, using: &rng) }
        let seed = Int.random(in: 0..<1_000_000, using: &rng)
        var filters = [
            "gradients=s=\(width)x\(height):c0=\(colors[0]):c1=\(colors[1]):c2=\(colors[2 % colors.count]):nb_colors=3"
                + ":x0=\(pos(width)):y0=\(pos(height)):x1=\(pos(width)):y1=\(pos(height)):seed=\(seed):d=1:r=1",
        ]
        var boxes: [String] = []
        for _ in 0..<3 {
            let w = width / 4 + pos(width / 3), h = height / 6 + pos(height / 4)
            boxes.append("drawbox=x=\(pos(width - w)):y=\(pos(height - h)):w=\(w):h=\(h):color=\(colors[colors.count - 1])@0.18:t=fill")
        }
        filters[0] += "," + boxes.joined(separator: ",") + ",gblur=sigma=\(max(8, width / 60)),noise=alls=10:allf=t,vignette=PI/5,format=rgb24"
        // Stored, not deflated: the grain makes the still nearly incompressible (22 MB deflated,
        // 25 MB stored at 3840×2160), and every picture segment decodes it again, in 0.1 s
        // stored against 0.25 s deflated; writing it is 0.3 s against 0.8 s.
        try await tools.run(.ffmpeg, ToolRunner.ffmpegQuiet + [
            "-f", "lavfi", "-i", filters[0], "-frames:v", "1", "-compression_level", "0", outputPath.path,
        ], timeout: .seconds(120))
        return VisualAsset(path: outputPath.path, type: .image, prompt: prompt)
    }
}

/// Ken Burns clips: a slow zoom or pan over a still twice the output size, so the motion moves in
/// half-pixel steps of the output and does not jitter.
public struct KenBurnsGenerator: VideoGenerator {
    let tools: ToolRunner
    let width: Int
    let height: Int
    let fps: Int

    public init(tools: ToolRunner, width: Int, height: Int, fps: Int = VideoFormat.framesPerSecond) {
        self.tools = tools
        self.width = width
        self.height = height
        self.fps = fps
    }

    /// zoompan's expressions for `motion` over a clip of `frames` frames, starting at its frame
    /// `offset` (so a piece of the clip can be drawn alone, exactly as in the whole).
    public static func expressions(_ motion: Motion, frames: Int, offset: Int = 0) -> (z: String, x: String, y: String) {
        let p = "(on+\(offset))/\(max(1, frames - 1))"
        let cx = "iw/2-(iw/zoom/2)", cy = "ih/2-(ih/zoom/2)"
        switch motion {
        case .zoomIn: return ("1+0.18*\(p)", cx, cy)
        case .zoomOut: return ("1.18-0.18*\(p)", cx, cy)
        case .panLeft: return ("1.15", "(iw-iw/zoom)*(1-\(p))", cy)
        case .panRight: return ("1.15", "(iw-iw/zoom)*\(p)", cy)
        case .panUp: return ("1.15", cx, "(ih-ih/zoom)*(1-\(p))")
        case .panDown: return ("1.15", cx, "(ih-ih/zoom)*\(p)")
        }
    }

    public func generateFromImage(_ image: VisualAsset, motion: Motion, duration: Double, outputPath: URL) async throws -> VisualAsset {
        let frames = max(1, Int((duration * Double(fps)).rounded(.up)))
        let filter = zoompan(motion, frames: frames, from: 0, count: frames) + ",format=yuv420p"
        try await tools.run(.ffmpeg, ToolRunner.ffmpegQuiet + [
            "-i", image.path, "-vf", filter, "-frames:v", String(frames),
            "-c:v", "libx264", "-preset", "veryfast", "-crf", "18", "-threads", "2", "-an", outputPath.path,
        ], timeout: .seconds(600 + Int64(duration) * 10))
        return VisualAsset(path: outputPath.path, type: .video, duration: Double(frames) / Double(fps), prompt: image.prompt)
    }

    /// The zoompan filter drawing frames `[from, from + count)` of a `frames`-long move.
    public func zoompan(_ motion: Motion, frames: Int, from: Int, count: Int) -> String {
        let e = Self.expressions(motion, frames: frames, offset: from)
        return "zoompan=z='\(e.z)':x='\(e.x)':y='\(e.y)':d=\(count):s=\(width)x\(height):fps=\(fps)"
    }
}

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

/// Burned-in captions as an ASS file: one event per narrated sentence, timed from the
/// measured audio, styled per channel.
public enum Captions {
    public struct Cue: Sendable, Hashable, Codable {
        public var start: Double
        public var end: Double
        public var text: String
        public init(start: Double, end: Double, text: String) {
            self.start = start
            self.end = end
            self.text = text
        }
    }

    static func time(_ t: Double) -> String {
        let cs = Int((t * 100).rounded())
        return String(format: "%d:%02d:%02d.%02d", cs / 360_000, (cs / 6000) % 60, (cs / 100) % 60, cs % 100)
    }

    public static func ass(_ cues: [Cue], style: ChannelStyle, width: Int, height: Int) -> String {
        let size = Int(Double(height) * style.captionSizeFraction)
        let margin = height / 8
        var out = """
            [Script Info]
            ScriptType: v4.00+
            PlayResX: \(width)
            PlayResY: \(height)
            WrapStyle: 0
            ScaledBorderAndShadow: yes

            [V4+ Styles]
            Format: Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, OutlineColour, BackColour, Bold, Italic, Underline, StrikeOut, ScaleX, ScaleY, Spacing, Angle, BorderStyle, Outline, Shadow, Alignment, MarginL, MarginR, MarginV, Encoding
            Style: Default,\(style.font),\(size),\(style.captionPrimary),&H000000FF,\(style.captionOutline),&H64000000,1,0,0,0,100,100,0,0,1,\(style.captionOutlineWidth),1,2,\(width / 12),\(width / 12),\(margin),1

            [Events]
            Format: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text

            """
        for c in cues {
            let text = c.text.replacingOccurrences(of: "\n", with: " ").replacingOccurrences(of: "{", with: "(").replacingOccurrences(of: "}", with: ")")
            out += "Dialogue: 0,\(time(c.start)),\(time(c.end)),Default,,0,0,0,,\(text)\n"
        }
        return out
    }

    /// Reads the cue times back from an ASS file.
    public static func parseTimes(_ ass: String) -> [(start: Double, end: Double)] {
        func seconds(_ s: Substring) -> Double {
            let p = s.split(separator: ":")
            guard p.count == 3, let h = Double(p[0]), let m = Double(p[1]), let sec = Double(p[2]) else { return -1 }
            return h * 3600 + m * 60 + sec
        }
        return ass.split(separator: "\n").filter { $0.hasPrefix("Dialogue:") }.map { line in
            let f = line.dropFirst("Dialogue:".count).split(separator: ",", maxSplits: 9, omittingEmptySubsequences: false)
            return (seconds(f[1].drop { $0 == " " }), seconds(f[2]))
        }
    }
}

/// A thumbnail: 1280×720 JPEG under 2 MB, the title fitted in up to three outlined lines over a key scene.
public struct FFmpegThumbnailGenerator: ThumbnailGenerator {
    let tools: ToolRunner
    let background: String

    /// - Parameter background: the key scene's image.
    public init(tools: ToolRunner, background: String) {
        self.tools = tools
        self.background = background
    }

    /// Breaks the title into at most three lines and picks the largest size that fits 1280×720.
    public static func layout(_ title: String) -> (lines: [String], size: Int) {
        let words = title.split(separator: " ").map(String.init)
        for size in stride(from: 120, through: 36, by: -6) {
            let perLine = Int(1180.0 / (Double(size) * 0.62))
            var lines: [String] = []
            var current = ""
            for w in words {
                if current.isEmpty { current = w } else if current.count + 1 + w.count <= perLine { current += " " + w } else {
                    lines.append(current)
                    current = w
                }
            }
            if !current.isEmpty { lines.append(current) }
            if lines.count <= 3, lines.allSatisfy({ $0.count <= perLine }), Double(lines.count) * Double(size) * 1.25 < 620 {
                return (lines, size)
            }
        }
        return ([String(title.prefix(40))], 36)
    }

    public func generate(title: String, channel: ChannelConfig, outputPath: URL) async throws -> VisualAsset {
        let style = ChannelStyle.of(channel.type)
        let (lines, size) = Self.layout(title)
        let textFiles = try lines.enumerated().map { i, line -> String in
            let p = outputPath.deletingLastPathComponent().appending(path: ".thumb-line-\(i).txt").path
            try Data(line.utf8).write(to: URL(fileURLWithPath: p))
            return p
        }
        defer { for f in textFiles { try? FileManager.default.removeItem(atPath: f) } }
        let lineHeight = Double(size) * 1.25
        let top = (720 - lineHeight * Double(lines.count)) / 2
        var filter = "scale=1280:720:force_original_aspect_ratio=increase,crop=1280:720,eq=brightness=-0.12"
        for (i, f) in textFiles.enumerated() {
            filter += ",drawtext=fontfile=\(style.fontFile):textfile=\(f):fontsize=\(size):fontcolor=white:borderw=\(max(3, size / 14)):bordercolor=black"
                + ":x=(w-text_w)/2:y=\(Int(top + lineHeight * Double(i)))"
        }
        for quality in [3, 6, 10, 16] {
            try await tools.run(.ffmpeg, ToolRunner.ffmpegQuiet + ["-i", background, "-vf", filter, "-frames:v", "1", "-q:v", String(quality), outputPath.path], timeout: .seconds(60))
            let bytes = (try FileManager.default.attributesOfItem(atPath: outputPath.path)[.size] as? Int) ?? 0
            if bytes < 2_000_000 { break }
        }
        return VisualAsset(path: outputPath.path, type: .image, prompt: title)
    }
}

/// The default "upload": copies the video, the thumbnail and a `metadata.json` into
/// `<output_dir>/<channel>/<job id>-<slug>/`. Idempotent: publishing the same files again changes nothing.
public struct LocalPublisher: YouTubeUploader {
    public let folder: URL

    public init(folder: URL) { self.folder = folder }

    public func upload(video: URL, title: String, description: String, tags: [String], thumbnail: URL?) async throws -> UploadResult {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        func place(_ source: URL, as name: String) async throws {
            let target = folder.appending(path: name).path
            if let a = try? Files.artifact(target), let b = try? Files.artifact(source.path), a.sha256 == b.sha256 { return }
            try await Files.atomically(target) { tmp in try FileManager.default.copyItem(atPath: source.path, toPath: tmp) }
        }
        try await place(video, as: "video.mp4")
        if let thumbnail { try await place(thumbnail, as: "thumbnail.jpg") }
        let meta: [String: Any] = ["title": title, "description": description, "tags": tags]
        let data = try JSONSerialization.data(withJSONObject: meta, options: [.prettyPrinted, .sortedKeys])
        let metaPath = folder.appending(path: "metadata.json").path
        if (try? Data(contentsOf: URL(fileURLWithPath: metaPath))) != data { try await Files.write(data, to: metaPath) }
        return UploadResult(videoID: "local:" + folder.lastPathComponent, url: folder.appending(path: "video.mp4").absoluteString)
    }
}
