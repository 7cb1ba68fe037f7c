import Foundation
import YTAutoCore

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

    /// The same cues as a WebVTT subtitle file (`captions.vtt` beside the published video), so a
    /// player can show them as subtitles that viewers turn on and off. Times to the millisecond;
    /// `&` and `<` escaped and `-->` broken, as the format requires of cue text.
    public static func webVTT(_ cues: [Cue]) -> String {
        func stamp(_ t: Double) -> String {
            let ms = Int((max(0, t) * 1000).rounded())
            return String(format: "%02d:%02d:%02d.%03d", ms / 3_600_000, (ms / 60_000) % 60, (ms / 1000) % 60, ms % 1000)
        }
        var out = "WEBVTT\n"
        for (i, c) in cues.enumerated() {
            let text = c.text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
                .replacingOccurrences(of: "-->", with: "--&gt;").replacingOccurrences(of: "\n", with: " ")
            out += "\n\(i + 1)\n\(stamp(c.start)) --> \(stamp(c.end))\n\(text)\n"
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
