import Foundation
import YTAutoCore
import YTAutoSupport

/// The picture of a video, drawn straight from the scene stills in segments: each scene alone,
/// and each crossfade between two scenes, with the captions burned in at their global times.
///
/// A scene with a video clip plays the clip instead of moving over its still: scaled and cropped
/// to cover the format (no black bars), at the format's frame rate, looped when the scene outlasts
/// it; each segment seeks to its place in the clip, so it decodes only what it shows.
///
/// Every frame is drawn (zoompan) and encoded once. Segments render in parallel, up to the core
/// count; each ffmpeg holds at most two stills, so memory does not grow with the video's length.
/// Each segment is a reusable item (``Files/item(_:key:make:)``): a retry redraws only what is missing.
public struct PictureRenderer: Sendable {
    public struct Scene: Sendable, Hashable {
        public var image: String
        public var motion: Motion
        /// Seconds of narration the scene covers.
        public var seconds: Double
        /// A video clip that plays in the scene instead of the still's motion.
        public var clip: Clip?
        public init(image: String, motion: Motion, seconds: Double, clip: Clip? = nil) {
            self.image = image
            self.motion = motion
            self.seconds = seconds
            self.clip = clip
        }
    }

    /// A video file and its length in seconds.
    public struct Clip: Sendable, Hashable {
        public var path: String
        public var seconds: Double
        public init(path: String, seconds: Double) {
            self.path = path
            self.seconds = seconds
        }
    }

    /// A piece of the timeline, in frames.
    public enum Segment: Sendable, Hashable {
        /// Frames `[from, to)` of scene `scene`'s move, placed at global frame `at`.
        case solo(scene: Int, from: Int, to: Int, at: Int)
        /// The last `frames` of scene `scene`'s move (from its frame `from`) fading into the first of the next.
        case fade(scene: Int, from: Int, frames: Int, at: Int)
    }

    let tools: ToolRunner
    let style: ChannelStyle
    let format: VideoFormat
    let width: Int

    public init(tools: ToolRunner, style: ChannelStyle, format: VideoFormat, concurrency: Int = ProcessInfo.processInfo.activeProcessorCount) {
        self.tools = tools
        self.style = style
        self.format = format
        self.width = max(1, concurrency)
    }

    /// The segments, and the length in frames of each scene's whole move (its own frames plus the
    /// crossfade into the next), as an `xfade` chain of whole clips would show them.
    public static func plan(sceneSeconds: [Double], crossfade: Double, total: Double, fps: Int = VideoFormat.framesPerSecond) -> (segments: [Segment], moveFrames: [Int]) {
        let n = sceneSeconds.count
        let x = Int((crossfade * Double(fps)).rounded())
        var starts: [Int] = []
        var t = 0.0
        for s in sceneSeconds {
            starts.append(Int((t * Double(fps)).rounded()))
            t += s
        }
        let end = Int((total * Double(fps)).rounded())
        var segments: [Segment] = []
        var moves: [Int] = []
        for i in 0..<n {
            let next = i < n - 1 ? starts[i + 1] : end
            let own = next - starts[i]
            moves.append(own + (i < n - 1 ? x : 0))
            let from = i == 0 ? 0 : x
            if own > from { segments.append(.solo(scene: i, from: from, to: own, at: starts[i] + from)) }
            if i < n - 1 { segments.append(.fade(scene: i, from: own, frames: x, at: next)) }
        }
        return (segments, moves)
    }

    /// Renders every segment into `folder`, in order; returns their paths.
    public func render(scenes: [Scene], captions: String, total: Double, folder: URL,
                       onSegment: (@Sendable (Int, Int) -> Void)? = nil) async throws -> [String] {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let fps = VideoFormat.framesPerSecond
        let (plan, moves) = Self.plan(sceneSeconds: scenes.map(\.seconds), crossfade: style.crossfade, total: total)
        let kb = KenBurnsGenerator(tools: tools, width: format.width, height: format.height)
        let ass = filterPath(captions)
        let captionsHash = try Files.artifact(captions).sha256
        // Each file hashed once, however many scenes show it (a clip may play in several).
        var hashes: [String: String] = [:]
        for path in Set(scenes.map { $0.clip?.path ?? $0.image }) { hashes[path] = try Files.artifact(path).sha256 }
        let imageHashes = scenes.map { hashes[$0.clip?.path ?? $0.image]! }
        let tools = self.tools
        let formatName = format.rawValue
        let (w, h) = (format.width, format.height)
        // Scene `s`'s frames `[from, from + count)` as input number `input`: its inputs and filter chain.
        @Sendable func source(_ s: Int, from: Int, count: Int, input: Int) -> (inputs: [String], chain: String) {
            if let clip = scenes[s].clip, clip.seconds > 0 {
                let at = (Double(from) / Double(fps)).truncatingRemainder(dividingBy: clip.seconds)
                return (["-ss", String(format: "%.4f", at), "-stream_loop", "-1", "-i", clip.path],
                        "[\(input):v]fps=\(fps),scale=\(w):\(h):force_original_aspect_ratio=increase,crop=\(w):\(h),setsar=1,"
                            + "trim=end_frame=\(count),setpts=PTS-STARTPTS")
            }
            return (["-i", scenes[s].image], "[\(input):v]\(kb.zoompan(scenes[s].motion, frames: moves[s], from: from, count: count))")
        }
        return try await concurrentMap(plan, width: width) { i, segment -> String in
            let path = folder.appending(path: String(format: "seg%04d.mp4", i)).path
            // Captions see global time: shift, burn, shift back.
            func caption(_ at: Int) -> String {
                "setpts=PTS-STARTPTS+\(at)/(\(fps)*TB),ass=filename=\(ass),setpts=PTS-STARTPTS,format=yuv420p"
            }
            let inputs: [String], graph: String, frames: Int, key: String
            switch segment {
            case .solo(let s, let from, let to, let at):
                frames = to - from
                let a = source(s, from: from, count: frames, input: 0)
                inputs = a.inputs
                graph = "\(a.chain),\(caption(at))[v]"
                key = "solo|\(imageHashes[s])|\(scenes[s].motion.rawValue)|\(moves[s])|\(from)|\(to)|\(at)|\(captionsHash)|\(formatName)"
            case .fade(let s, let from, let n, let at):
                frames = n
                let d = String(format: "%.4f", Double(n) / Double(fps))
                let a = source(s, from: from, count: n, input: 0), b = source(s + 1, from: 0, count: n, input: 1)
                inputs = a.inputs + b.inputs
                graph = "\(a.chain)[a];\(b.chain)[b];[a][b]xfade=transition=fade:duration=\(d):offset=0,\(caption(at))[v]"
                key = "fade|\(imageHashes[s])|\(imageHashes[s + 1])|\(scenes[s].motion.rawValue)|\(scenes[s + 1].motion.rawValue)|\(moves[s])|\(moves[s + 1])|\(from)|\(n)|\(at)|\(captionsHash)|\(formatName)"
            }
            try await Files.item(path, key: key) { tmp in
                try await tools.run(.ffmpeg, ToolRunner.ffmpegQuiet + inputs + [
                    "-filter_complex", graph, "-map", "[v]", "-frames:v", String(frames), "-r", String(fps),
                    "-c:v", "libx264", "-preset", "veryfast", "-crf", "21", "-pix_fmt", "yuv420p",
                    "-video_track_timescale", "15360", "-an", "-f", "mp4", tmp,
                ], timeout: .seconds(Int64(300 + frames / 2)))
            }
            onSegment?(i, plan.count)
            return path
        }
    }
}
