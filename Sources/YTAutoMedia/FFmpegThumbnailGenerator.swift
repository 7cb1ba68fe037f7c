import Foundation
import YTAutoCore
import YTAutoSupport

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
