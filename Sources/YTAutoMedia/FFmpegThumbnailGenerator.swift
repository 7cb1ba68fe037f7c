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
    ///
    /// Lines break at the title's spaces, which a Japanese title written for espeak-ng has between
    /// its phrases (はちみつが くさらない ひみつ): a phrase stays whole and its space stays. Only a
    /// phrase of Japanese or Chinese too wide for a line by itself breaks between characters
    /// (they have no spaces of their own); before, every character could end a line, and the
    /// title's spaces were dropped ("はちみつがくさらな / いひみつ").
    public static func layout(_ title: String) -> (lines: [String], size: Int) {
        // A Japanese or Chinese character is about a full em wide, where a Latin letter is 0.62 of one.
        func wide(_ c: Character) -> Bool { c.unicodeScalars.contains(where: Script.isCJK) }
        func width(_ s: String) -> Double { s.reduce(0) { $0 + (wide($1) ? 1 / 0.62 : 1) } }
        let words = title.split(separator: " ").map(String.init)
        for size in stride(from: 120, through: 36, by: -6) {
            let perLine = Double(Int(1180.0 / (Double(size) * 0.62)))
            // Each word whole, with its space before it; a CJK one wider than a line, character by character.
            var tokens: [(text: String, spaceBefore: Bool)] = []
            for word in words {
                if word.contains(where: wide) && width(word) > perLine {
                    tokens += word.enumerated().map { i, c in (String(c), i == 0) }
                } else {
                    tokens.append((word, true))
                }
            }
            var lines: [String] = []
            var current = ""
            for t in tokens {
                let joiner = current.isEmpty || !t.spaceBefore ? "" : " "
                if current.isEmpty || width(current + joiner + t.text) <= perLine {
                    current += joiner + t.text
                } else {
                    lines.append(current)
                    current = t.text
                }
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
