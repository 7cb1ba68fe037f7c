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
        // Japanese and Chinese have no spaces: each character may end a line, and is about a
        // full em wide where a Latin letter is 0.62 of one.
        func wide(_ c: Character) -> Bool { c.unicodeScalars.contains(where: Script.isCJK) }
        var tokens: [(text: String, spaced: Bool)] = []
        for word in title.split(separator: " ") {
            if word.contains(where: wide) {
                tokens += word.map { (String($0), false) }
            } else {
                tokens.append((String(word), true))
            }
        }
        func width(_ s: String) -> Double { s.reduce(0) { $0 + (wide($1) ? 1 / 0.62 : 1) } }
        for size in stride(from: 120, through: 36, by: -6) {
            let perLine = Double(Int(1180.0 / (Double(size) * 0.62)))
            var lines: [String] = []
            var current = "", currentSpaced = false
            for t in tokens {
                let joiner = current.isEmpty || !(currentSpaced && t.spaced) ? "" : " "
                if current.isEmpty || width(current + joiner + t.text) <= perLine {
                    current += joiner + t.text
                } else {
                    lines.append(current)
                    current = t.text
                }
                currentSpaced = t.spaced
            }
            if !current.isEmpty { lines.append(current) }
            if lines.count <= 3, lines.allSatisfy({ width($0) <= perLine }), Double(lines.count) * Double(size) * 1.25 < 620 {
                return (lines, size)
            }
        }
        return ([String(title.prefix(40))], 36)
    }

    public func generate(title: String, channel: ChannelConfig, outputPath: URL) async throws -> VisualAsset {
        let style = ChannelStyle.of(channel)
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
