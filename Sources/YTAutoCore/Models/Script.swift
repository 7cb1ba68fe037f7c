/// A narrated script: the seed's `Script(title, hook, body, cta, channel)`.
public struct Script: Sendable, Codable, Hashable {
    public var title: String
    public var hook: String
    public var body: String
    public var cta: String
    public var channel: ChannelType

    public init(title: String, hook: String, body: String, cta: String, channel: ChannelType) {
        self.title = title
        self.hook = hook
        self.body = body
        self.cta = cta
        self.channel = channel
    }

    /// The narrated text, in reading order: hook, body, call to action. The title is not read.
    public var narration: String {
        [hook, body, cta].filter { !$0.isEmpty }.joined(separator: "\n\n")
    }

    /// Words in the narrated text (hook, body and call to action).
    public var wordCount: Int { Script.countWords(narration) }

    /// Counts whitespace-separated runs that contain at least one letter or digit,
    /// so punctuation such as "—" standing alone is not a word.
    public static func countWords(_ text: String) -> Int {
        text.split(whereSeparator: { $0.isWhitespace })
            .filter { $0.contains(where: { $0.isLetter || $0.isNumber }) }
            .count
    }
}
