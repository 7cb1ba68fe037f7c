import Foundation
import YTAutoCore
import YTAutoSupport

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
