import Foundation
import YTAutoCore

/// Burned-in captions as an ASS file, timed from the measured audio, styled per channel, in the
/// channel's ``CaptionStyle``: a plain line a sentence, the sentence with the spoken word
/// highlighted, or 1–3 words a cue with the spoken word highlighted, large and centred.
///
/// Every event names what it shows in its Name field, `s<sentence>` for a sentence's line or
/// `s<sentence>w<word>` for the moment word `<word>` (counted over the whole narration) is
/// highlighted, so the QA gate can read back when each sentence shows and each word lights up.
public enum Captions {
    /// A narrated sentence: where it shows, its text, and its words at their places in the narration.
    public struct Cue: Sendable, Hashable, Codable {
        public var start: Double
        public var end: Double
        public var text: String
        /// The sentence's words, in seconds from the start of the narration (empty: no word timings).
        public var words: [WordTiming]
        public init(start: Double, end: Double, text: String, words: [WordTiming] = []) {
            self.start = start
            self.end = end
            self.text = text
            self.words = words
        }
    }

    /// Cues of at most this many words in the `words` style.
    public static let wordsPerCue = 3

    static func time(_ t: Double) -> String {
        let cs = Int((t * 100).rounded())
        return String(format: "%d:%02d:%02d.%02d", cs / 360_000, (cs / 6000) % 60, (cs / 100) % 60, cs % 100)
    }

    public static func ass(_ cues: [Cue], style: ChannelStyle, captions: CaptionStyle = .sentences, width: Int, height: Int) -> String {
        let size = Int(Double(height) * style.captionSizeFraction)
        let margin = height / 8
        // The words style: large (a tenth of the short side), bold, in the middle of the picture.
        let bigSize = min(width, height) / 10
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
            Style: Words,\(style.font),\(bigSize),\(style.captionPrimary),&H000000FF,\(style.captionOutline),&H64000000,1,0,0,0,100,100,0,0,1,\(style.captionOutlineWidth + 2),2,5,\(width / 10),\(width / 10),0,1

            [Events]
            Format: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text

            """
        func clean(_ text: String) -> String {
            text.replacingOccurrences(of: "\n", with: " ").replacingOccurrences(of: "{", with: "(").replacingOccurrences(of: "}", with: ")")
                .replacingOccurrences(of: "\\", with: "/")
        }
        func event(_ start: Double, _ end: Double, _ styleName: String, _ name: String, _ text: String) {
            out += "Dialogue: 0,\(time(start)),\(time(max(start, end))),\(styleName),\(name),0,0,0,,\(text)\n"
        }
        /// The size override that makes the longest of `words` fit the style's width, or "" (see ``fittedSize``).
        func fit(_ words: [String], words big: Bool) -> String {
            let fitted = big
                ? fittedSize(words, size: bigSize, room: width - 2 * (width / 10) - 2 * (style.captionOutlineWidth + 2 + 2))
                : fittedSize(words, size: size, room: width - 2 * (width / 12) - 2 * (style.captionOutlineWidth + 1))
            return fitted.map { "\\fs\($0)" } ?? ""
        }
        /// `words` with word `k` in the highlight colour, all at size override `fs` (or the style's).
        func highlighted(_ words: [WordTiming], _ k: Int, _ fs: String) -> String {
            (fs.isEmpty ? "" : "{\(fs)}") + words.enumerated().map { i, w in
                i == k ? "{\\c\(style.captionHighlight)&}\(clean(w.word)){\\r\(fs)}" : clean(w.word)
            }.joined(separator: " ")
        }
        var wordIndex = 0
        for (n, c) in cues.enumerated() {
            let words = c.words
            guard captions != .sentences, !words.isEmpty else {
                let text = clean(c.text)
                let fs = fit(text.split(separator: " ").map(String.init), words: false)
                event(c.start, c.end, "Default", "s\(n)", (fs.isEmpty ? "" : "{\(fs)}") + text)
                wordIndex += words.count
                continue
            }
            // Each word lights up from its start until the next word's (the last until the cue ends);
            // the sentence's first event starts with the sentence.
            let groups = captions == .words ? wordGroups(words) : [words.indices]
            for (g, group) in groups.enumerated() {
                let groupEnd = g + 1 < groups.count ? words[groups[g + 1].lowerBound].start : c.end
                let shown = Array(words[group])
                let fs = fit(shown.map { clean($0.word) }, words: captions == .words)
                for k in group {
                    let start = k == 0 ? c.start : words[k].start
                    let end = k + 1 < group.upperBound ? words[k + 1].start : groupEnd
                    event(start, end, captions == .words ? "Words" : "Default", "s\(n)w\(wordIndex + k)", highlighted(shown, k - group.lowerBound, fs))
                }
            }
            wordIndex += words.count
        }
        return out
    }

    /// The font size at which the widest of `words` fits `room` pixels, when that is smaller than
    /// `size`; nil when they fit at `size`. libass breaks a line only at a space, so one word wider
    /// than the frame (a chemical's name, a word shouted in capitals) ran off both sides; it is
    /// drawn smaller instead, and the others of its event with it. Widths are ``ems(_:)``.
    static func fittedSize(_ words: [String], size: Int, room: Int) -> Int? {
        guard let widest = words.map(ems).max(), widest > 0 else { return nil }
        let fits = Double(room) / widest
        return fits < Double(size) ? max(8, Int(fits)) : nil
    }

    /// How wide `word` is drawn, in ems of the font size, taken on the wide side of the bold faces
    /// the channels use (DejaVu Sans Bold and DejaVu Serif Bold, whose capitals run 0.7–0.85 em
    /// and whose widest letters, M and W, up to 1.15): capitals 0.85, M and W 1.2, m and w 1.05,
    /// digits 0.72, other letters 0.68, punctuation and marks 0.45, East Asian characters 1.
    static func ems(_ word: String) -> Double {
        word.reduce(0) { sum, c in
            let em: Double
            if c.unicodeScalars.contains(where: Script.isCJK) {
                em = 1
            } else if c == "M" || c == "W" {
                em = 1.2
            } else if c == "m" || c == "w" {
                em = 1.05
            } else if c.isUppercase {
                em = 0.85
            } else if c.isNumber {
                em = 0.72
            } else if c.isLetter {
                em = 0.68
            } else {
                em = 0.45
            }
            return sum + em
        }
    }

    /// The words style's cues: at most ``wordsPerCue`` words, a cue ending after a word that ends a clause.
    static func wordGroups(_ words: [WordTiming]) -> [Range<Int>] {
        var out: [Range<Int>] = []
        var start = 0
        for (i, w) in words.enumerated() {
            let closes = w.word.last.map { ",;:.!?\u{2014}".contains($0) } ?? false
            if i + 1 - start == wordsPerCue || closes || i == words.count - 1 {
                out.append(start..<(i + 1))
                start = i + 1
            }
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

    /// An event read back from an ASS file: its times and what it shows (its Name field).
    public struct Event: Sendable, Hashable {
        public var start: Double
        public var end: Double
        /// The sentence it belongs to, and the word it highlights (if any), from its Name.
        public var sentence: Int?
        public var word: Int?
    }

    /// Reads the events back from an ASS file.
    public static func parseEvents(_ ass: String) -> [Event] {
        func seconds(_ s: Substring) -> Double {
            let p = s.split(separator: ":")
            guard p.count == 3, let h = Double(p[0]), let m = Double(p[1]), let sec = Double(p[2]) else { return -1 }
            return h * 3600 + m * 60 + sec
        }
        return ass.split(separator: "\n").filter { $0.hasPrefix("Dialogue:") }.map { line in
            let f = line.dropFirst("Dialogue:".count).split(separator: ",", maxSplits: 9, omittingEmptySubsequences: false)
            var sentence: Int?, word: Int?
            let name = f.count > 4 ? f[4] : ""
            if name.hasPrefix("s") {
                let parts = name.dropFirst().split(separator: "w", omittingEmptySubsequences: false)
                sentence = Int(parts[0])
                word = parts.count > 1 ? Int(parts[1]) : nil
            }
            return Event(start: seconds(f[1].drop { $0 == " " }), end: seconds(f[2]), sentence: sentence, word: word)
        }
    }

    /// When each sentence shows, from an ASS file: from its first event's start to its last one's
    /// end, in order (an event without a sentence in its Name counts as a sentence of its own).
    public static func parseTimes(_ ass: String) -> [(start: Double, end: Double)] {
        var out: [(start: Double, end: Double)] = []
        var current: Int?
        for e in parseEvents(ass) {
            if let s = e.sentence, s == current, !out.isEmpty {
                out[out.count - 1].start = min(out[out.count - 1].start, e.start)
                out[out.count - 1].end = max(out[out.count - 1].end, e.end)
            } else {
                out.append((e.start, e.end))
                current = e.sentence
            }
        }
        return out
    }
}
