import Foundation

/// A channel's language (`language:`, a BCP-47 tag such as `es`, `es-MX` or `ja-JP`; `en` by
/// default): what an LLM writes in, which espeak-ng voice speaks, which font the captions and
/// the thumbnail are drawn with (one that has the language's glyphs), and which sentence stops
/// split the narration.
///
/// Only the primary subtag chooses (`es-MX` speaks as `es`). The languages ytauto knows are
/// ``supported``; another is a configuration error. The offline template writer writes English
/// only, so another language needs an LLM script (`script: openai | anthropic`).
public struct Language: Sendable, Hashable {
    /// The primary subtag, lower case: `en`, `es`, `ja`.
    public let code: String
    /// Its English name, for the LLM's prompt and messages.
    public let name: String
    /// The espeak-ng voice that speaks it (its variant, `+m3`, comes from the channel's voice).
    public let espeakVoice: String
    /// A font with its glyphs for captions and thumbnails, when the channel type's own
    /// (DejaVu, Latin, Greek and Cyrillic) lacks them: a fontconfig family and its file.
    public let font: Font?
    /// Sentences for measuring how fast the voice speaks it.
    public let calibration: [String]

    public struct Font: Sendable, Hashable {
        public let family: String
        public let file: String
        /// The Debian package that installs it (`.ci/deps` installs it).
        public let package: String
    }

    public static let english = Language(
        code: "en", name: "English", espeakVoice: "en-us", font: nil,
        calibration: ["The quick brown fox jumps over the lazy dog near the quiet river bank.",
                      "Every morning she walked to the market and bought fresh bread for the family.",
                      "Numbers tell a story, but only if somebody takes the time to read them."])

    public static let spanish = Language(
        code: "es", name: "Spanish", espeakVoice: "es", font: nil,
        calibration: ["El zorro marrón salta sobre el perro perezoso junto al río tranquilo.",
                      "Cada mañana caminaba al mercado y compraba pan fresco para la familia.",
                      "Los números cuentan una historia, pero solo si alguien se toma el tiempo de leerlos."])

    /// Japanese, counted in characters (it has no spaces between words). espeak-ng reads kana;
    /// it cannot read kanji, so an LLM is asked for kana when espeak-ng speaks.
    public static let japanese = Language(
        code: "ja", name: "Japanese", espeakVoice: "ja",
        font: Font(family: "IPAGothic", file: "/usr/share/fonts/opentype/ipafont-gothic/ipag.ttf", package: "fonts-ipafont-gothic"),
        calibration: ["はやい ちゃいろの きつねは ねむい いぬを とびこえます。",
                      "まいあさ かのじょは いちばへ あるいて いき、かぞくの ために パンを かいました。",
                      "かずは ものがたりを かたりますが、だれかが よむ ときだけです。"])

    public static let supported: [Language] = [.english, .spanish, .japanese]

    /// A BCP-47 tag's primary subtag in lower case (`es-MX` → `es`), whatever ytauto supports.
    public static func primarySubtag(_ tag: String) -> String {
        tag.split(separator: "-", omittingEmptySubsequences: false).first.map { $0.lowercased() } ?? ""
    }

    /// The language of a BCP-47 tag, or nil when the tag is malformed or its language is not supported.
    public static func parse(_ tag: String) -> Language? {
        let parts = tag.split(separator: "-", omittingEmptySubsequences: false)
        guard let first = parts.first, (2...3).contains(first.count), first.allSatisfy({ $0.isASCII && $0.isLetter }),
              parts.dropFirst().allSatisfy({ (1...8).contains($0.count) && $0.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber) } })
        else { return nil }
        return supported.first { $0.code == first.lowercased() }
    }

    /// Whether its text separates words with spaces (Japanese does not: it is counted in characters).
    public var spaced: Bool { code != "ja" }

    /// The message for a tag that is not usable.
    public static func problem(_ tag: String) -> String {
        "'\(tag)' is not a language ytauto speaks; use one of " + supported.map { "\($0.code) (\($0.name))" }.joined(separator: ", ")
    }
}
