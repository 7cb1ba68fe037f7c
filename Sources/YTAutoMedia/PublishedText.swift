import Foundation
import YTAutoCore

/// The words a video is published with, made to YouTube's rules and a reader's eye.
///
/// - Titles in title case (AP/Chicago style: the first and last word and every word but the short
///   articles, conjunctions and prepositions get a capital), keeping acronyms (`NASA`), words with
///   capitals of their own (`iPhone`, `McDonald's`) and the topic's own spelling, at most 100
///   characters (cut at a word, never inside one).
/// - Shorts' descriptions end with `#shorts`, the channel's genre and the topic as hashtags.
/// - Tags within YouTube's 500-character budget (each tag's length, plus 2 for a tag with a space,
///   which YouTube counts quoted, plus a comma between tags); the first ones are kept.
public enum PublishedText {
    /// Words that stay lower case inside a title.
    static let minor: Set<String> = [
        "a", "an", "the", "and", "but", "or", "nor", "for", "so", "yet", "as", "at", "by", "in", "of", "off", "on",
        "per", "to", "up", "via", "vs", "vs.", "with", "from", "into", "onto", "over", "than",
    ]

    /// `title` in title case, keeping `topic`'s own capitals, at most `limit` characters.
    ///
    /// Title case is English's: Spanish titles are in sentence case ("¿Por qué la miel nunca se
    /// echa a perder?") and Japanese has no case, so in another `language` the title keeps the
    /// writer's own casing and is only fitted to `limit`.
    public static func title(_ title: String, topic: String? = nil, language: Language = .english, limit: Int = 100) -> String {
        guard language.code == Language.english.code else {
            return fit(title.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " "), limit: limit)
        }
        // The topic's words that carry capitals of their own, by their lower-case form.
        var own: [String: String] = [:]
        for word in (topic ?? "").split(separator: " ").map(String.init) where word != word.lowercased() {
            own[core(word).lowercased()] = core(word)
        }
        let words = title.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
        var out: [String] = []
        for (i, word) in words.enumerated() {
            let afterColon = i > 0 && (words[i - 1].hasSuffix(":") || words[i - 1].hasSuffix("?") || words[i - 1].hasSuffix("!"))
            let edge = i == 0 || i == words.count - 1 || afterColon
            out.append(cased(word, edge: edge, own: own))
        }
        return fit(out.joined(separator: " "), limit: limit)
    }

    /// A word's letters without the punctuation around it (`"why,"` → `why`).
    static func core(_ word: String) -> String {
        word.trimmingCharacters(in: .punctuationCharacters.union(.symbols))
    }

    static func cased(_ word: String, edge: Bool, own: [String: String]) -> String {
        let c = core(word)
        guard let first = c.first, first.isLetter else { return word }
        if let spelled = own[c.lowercased()] { return word.replacingOccurrences(of: c, with: spelled) }
        // An acronym or a word with capitals of its own keeps them.
        if c.dropFirst().contains(where: \.isUppercase) { return word }
        if !edge && minor.contains(c.lowercased()) { return word.replacingOccurrences(of: c, with: c.lowercased()) }
        // Each part of a hyphenated word: "well-known" → "Well-Known".
        let capitalized = c.split(separator: "-", omittingEmptySubsequences: false)
            .map { $0.prefix(1).uppercased() + $0.dropFirst() }.joined(separator: "-")
        return word.replacingOccurrences(of: c, with: capitalized)
    }

    /// At most `limit` characters, cut after the last whole word that fits.
    static func fit(_ text: String, limit: Int) -> String {
        guard text.count > limit else { return text }
        var out = ""
        for word in text.split(separator: " ") {
            let next = out.isEmpty ? String(word) : out + " " + word
            if next.count > limit { break }
            out = next
        }
        return out.isEmpty ? String(text.prefix(limit)) : out
    }

    /// `#shorts`, the channel's genre in its language (``genre(_:language:)``), and the topic as one
    /// hashtag (letters and digits, at most 30).
    public static func hashtags(topic: String, type: ChannelType, language: Language = .english) -> [String] {
        let words = topic.split(whereSeparator: { !$0.isLetter && !$0.isNumber }).map { $0.prefix(1).uppercased() + $0.dropFirst() }
        let topicTag = words.joined()
        let genreTag = genre(type, language: language).split(whereSeparator: { !$0.isLetter && !$0.isNumber }).joined()
        return ["#shorts", "#\(genreTag)"] + (topicTag.isEmpty || topicTag.count > 30 ? [] : ["#\(topicTag)"])
    }

    /// The word a viewer searches for the channel's genre, in its language: `facts`, `datos curiosos`, `雑学`.
    public static func genre(_ type: ChannelType, language: Language) -> String {
        switch (language.code, type) {
        case ("es", .facts): "datos curiosos"
        case ("es", .horror): "terror"
        case ("es", .finance): "finanzas"
        case ("ja", .facts): "雑学"
        case ("ja", .horror): "ホラー"
        case ("ja", .finance): "お金"
        default: type.rawValue
        }
    }

    /// A long video's chapter names in the channel's language: the intro, the body (named by the
    /// genre: "The story", "The facts", "The numbers") and the wrap-up.
    public static func chapterNames(_ type: ChannelType, language: Language) -> (intro: String, body: String, wrapUp: String) {
        switch (language.code, type) {
        case ("es", .horror): ("Introducción", "La historia", "Cierre")
        case ("es", .facts): ("Introducción", "Los datos", "Cierre")
        case ("es", .finance): ("Introducción", "Las cifras", "Cierre")
        case ("ja", .horror): ("はじめに", "ものがたり", "おわりに")
        case ("ja", .facts): ("はじめに", "ざつがく", "おわりに")
        case ("ja", .finance): ("はじめに", "すうじ", "おわりに")
        case (_, .horror): ("Intro", "The story", "Wrap-up")
        case (_, .facts): ("Intro", "The facts", "Wrap-up")
        case (_, .finance): ("Intro", "The numbers", "Wrap-up")
        }
    }

    /// A video's tags: its topic and its genre in the channel's language (and, for a short,
    /// `shorts`). Never the channel's name in the configuration, which is ytauto's, not a viewer's.
    public static func videoTags(topic: String, type: ChannelType, language: Language, short: Bool) -> [String] {
        tags([topic, genre(type, language: language)] + (short ? ["shorts"] : []))
    }

    /// The characters YouTube counts for `tags`.
    public static func tagBudget(_ tags: [String]) -> Int {
        tags.reduce(0) { $0 + $1.count + ($1.contains(" ") ? 2 : 0) } + max(0, tags.count - 1)
    }

    /// `tags` without repeats or empty ones, the first ones kept while they fit in `limit` characters.
    public static func tags(_ tags: [String], limit: Int = 500) -> [String] {
        var out: [String] = []
        var seen: Set<String> = []
        for tag in tags {
            let t = tag.trimmingCharacters(in: .whitespacesAndNewlines)
            guard !t.isEmpty, seen.insert(t.lowercased()).inserted else { continue }
            if tagBudget(out + [t]) > limit { break }
            out.append(t)
        }
        return out
    }

    /// The credits of a video's stock footage for its description, as the providers ask: each
    /// video or photo with its author and page ("Video by NAME on Pexels: PAGE"), then a line
    /// naming each provider with its site. At most `room` bytes (YouTube takes 5,000 in all):
    /// the lines that do not fit become "and N more on Pexels". Nothing for footage without a credit.
    public static func credits(_ assets: [FootageAsset], room: Int) -> String? {
        var seen = Set<String>()
        let credited = assets.compactMap { a in a.credit.map { (a.kind, $0) } }.filter { seen.insert($0.1.key(kind: $0.0)).inserted }
        guard !credited.isEmpty else { return nil }
        // YouTube refuses `<` and `>` in a description.
        func clean(_ s: String) -> String { s.replacingOccurrences(of: "<", with: "").replacingOccurrences(of: ">", with: "") }
        var providers: [String] = []
        for (_, c) in credited where !providers.contains(c.provider) { providers.append(c.provider) }
        let sites = ["Pexels": "https://www.pexels.com", "Pixabay": "https://pixabay.com"]
        let footer = "Footage provided by " + providers.map { p in sites[p].map { "\(p) (\($0))" } ?? p }.joined(separator: " and ") + "."
        var lines: [String] = []
        var used = "Footage:".utf8.count + 1 + footer.utf8.count + 1
        for (i, (kind, credit)) in credited.enumerated() {
            let line = clean(credit.line(kind: kind))
            let rest = credited.count - i - 1
            // Keep room for the "and N more" line while later ones remain.
            let reserve = rest > 0 ? 40 : 0
            guard used + line.utf8.count + 1 + reserve <= room else {
                let left = credited[i...]
                var byProvider: [String: Int] = [:]
                for (_, c) in left { byProvider[c.provider, default: 0] += 1 }
                let more = providers.compactMap { p in byProvider[p].map { "\($0) more on \(p)" } }.joined(separator: ", ")
                let tail = "and \(more)"
                if used + tail.utf8.count + 1 <= room { lines.append(tail) }
                break
            }
            lines.append(line)
            used += line.utf8.count + 1
        }
        guard used <= room else { return nil }
        return (["Footage:"] + lines + [footer]).joined(separator: "\n")
    }
}
