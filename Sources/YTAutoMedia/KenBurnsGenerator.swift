import Foundation
import YTAutoCore
import YTAutoSupport

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
