import Foundation

/// A narrated script: the seed's `Script(title, hook, body, cta, channel)`.
public struct Script: Sendable, Codable, Hashable {
    public var title: String
    public var hook: String
    public var body: String
    public var cta: String
    public var channel: ChannelType
    /// What to show: a short stock-footage search ("honey jar closeup") for each sentence of the
    /// hook, body and call to action in order, when the writer gives them (an LLM is asked to);
    /// nil from the template writer, whose scenes are searched by their own words.
    public var visuals: [String]?

    public init(title: String, hook: String, body: String, cta: String, channel: ChannelType, visuals: [String]? = nil) {
        self.title = title
        self.hook = hook
        self.body = body
        self.cta = cta
        self.channel = channel
        self.visuals = visuals
    }

    /// The search for sentence `index` of `count` (hook, body and call to action in order): its
    /// own visual when the writer gave one for each sentence, else the one at the same place
    /// in proportion; nil when there are none.
    public func visual(forSentence index: Int, of count: Int) -> String? {
        guard let visuals, !visuals.isEmpty, count > 0, index >= 0, index < count else { return nil }
        let v = visuals[visuals.count == count ? index : min(visuals.count - 1, index * visuals.count / count)]
        let trimmed = v.trimmingCharacters(in: .whitespacesAndNewlines)
        return trimmed.isEmpty ? nil : trimmed
    }

    /// The narrated text, in reading order: hook, body, call to action. The title is not read.
    public var narration: String {
        [hook, body, cta].filter { !$0.isEmpty }.joined(separator: "\n\n")
    }

    /// Words in the narrated text (hook, body and call to action).
    public var wordCount: Int { Script.countWords(narration) }

    /// Counts whitespace-separated runs that contain at least one letter or digit,
    /// so punctuation such as "—" standing alone is not a word. A run of Japanese or Chinese
    /// (kana, kanji), which have no spaces between words, counts each of its characters: that is
    /// how fast such a voice is measured too (``Language/calibration``).
    public static func countWords(_ text: String) -> Int {
        text.split(whereSeparator: { $0.isWhitespace }).reduce(0) { n, run in
            let wide = run.unicodeScalars.filter(isCJK).count
            let other = run.contains { ($0.isLetter || $0.isNumber) && !$0.unicodeScalars.contains(where: isCJK) }
            return n + wide + (other ? 1 : 0)
        }
    }

    /// Whether `text` has a word as ``countWords(_:)`` counts them (a count above 0), found
    /// without counting: a kana or kanji, or a letter or digit.
    public static func hasWords(_ text: some StringProtocol) -> Bool {
        text.contains { $0.isLetter || $0.isNumber } || text.unicodeScalars.contains(where: isCJK)
    }

    /// Kana, kanji and the CJK compatibility and extension blocks.
    public static func isCJK(_ s: Unicode.Scalar) -> Bool {
        switch s.value {
        case 0x3040...0x30FF, 0x31F0...0x31FF, 0x3400...0x4DBF, 0x4E00...0x9FFF, 0xF900...0xFAFF, 0xFF66...0xFF9D, 0x20000...0x2FA1F: true
        default: false
        }
    }
}
