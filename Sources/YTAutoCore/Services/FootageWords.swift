import Foundation

/// The words of a scene's narration that say what it shows: a media library's tags are compared
/// with them (``tags(_:)``), and a stock provider is searched with them (``searchTerms(_:limit:)``).
public enum FootageWords {
    /// The words of `text` as tags are compared: lower case, letters and digits, singular, no
    /// short or common words.
    public static func tags(_ text: String) -> Set<String> {
        var out = Set<String>()
        for raw in text.lowercased().split(whereSeparator: { !($0.isLetter || $0.isNumber) }) {
            var w = String(raw)
            guard w.count >= 3, !stopWords.contains(w) else { continue }
            if w.count > 4, ["ses", "xes", "ches", "shes"].contains(where: w.hasSuffix) { w.removeLast(2) }
            else if w.count > 3, w.hasSuffix("s"), !w.hasSuffix("ss") { w.removeLast() }
            out.insert(w)
        }
        return out
    }

    public static let stopWords: Set<String> = [
        "the", "and", "for", "are", "but", "not", "you", "all", "any", "can", "had", "her", "was", "one", "our",
        "out", "day", "get", "has", "him", "his", "how", "its", "may", "new", "now", "old", "see", "two", "who",
        "did", "let", "put", "say", "she", "too", "use", "that", "with", "have", "this", "will", "your", "from",
        "they", "know", "want", "been", "good", "much", "some", "time", "very", "when", "come", "here", "just",
        "like", "long", "make", "many", "more", "only", "over", "such", "take", "than", "them", "well", "were",
        "what", "into", "then", "there", "their", "these", "those", "which", "would", "about", "could", "other",
        "after", "first", "never", "every", "where", "while", "because", "why", "yet", "ever", "still", "even",
        "also", "does", "said", "might", "must", "should", "being", "through", "really", "most", "same", "each",
        // A call to action's words show nothing.
        "follow", "subscribe", "comment", "share", "channel", "video", "watch",
    ]

    /// Spanish words too common to show anything, and a call to action's.
    public static let spanishStopWords: Set<String> = [
        "que", "los", "las", "del", "por", "con", "una", "uno", "unos", "unas", "para", "como", "pero", "sus", "más", "mas", "este",
        "esta", "esto", "estos", "estas", "ese", "esa", "eso", "esos", "esas", "aquel", "aquella", "cuando", "donde", "porque",
        "también", "siempre", "después", "antes", "mientras", "entre", "sobre", "desde", "hasta", "muy", "todo", "toda", "todos",
        "todas", "nunca", "cada", "otro", "otra", "otros", "otras", "puede", "pueden", "podía", "tiene", "tienen", "tenía", "había",
        "hay", "son", "era", "eran", "fue", "fueron", "ser", "sido", "estar", "está", "están", "estaba", "nos", "les", "sin", "aún",
        "ahora", "entonces", "así", "algo", "nada", "mucho", "mucha", "muchos", "muchas", "poco", "tan", "tanto", "solo", "sólo",
        "bien", "hace", "hacer", "dice", "dijo", "cual", "cuál", "quien", "quién", "qué", "cómo", "dónde", "cuándo", "usted",
        "ustedes", "nosotros", "ellos", "ellas", "él", "ella", "mismo", "misma", "sea", "según", "durante", "incluso", "además",
        "sígueme", "síguenos", "sigue", "suscríbete", "suscribete", "comenta", "comparte", "canal", "vídeo", "video", "dale",
    ]

    /// The common words of a language (its primary subtag): English's for a language without a list.
    public static func stopWords(forLanguage tag: String) -> Set<String> {
        Language.primarySubtag(tag) == Language.spanish.code ? spanishStopWords : stopWords
    }

    /// Up to `limit` words of `text` to search a stock provider with: the longest words that are
    /// not common ones in `language` (a BCP-47 tag; the most specific, "lighthouse" before
    /// "light"), kept in the order the sentence says them, each once, in lower case.
    public static func searchTerms(_ text: String, limit: Int = 3, language: String = "en") -> [String] {
        let common = stopWords(forLanguage: language)
        var seen = Set<String>()
        // A possessive is its noun ("octopus's" → "octopus"); other contractions ("don't") say nothing to search.
        let words = text.lowercased().replacingOccurrences(of: "\u{2019}", with: "'")
            .split(whereSeparator: { !($0.isLetter || $0.isNumber || $0 == "'") })
            .map { word -> String in
                let w = word.trimmingCharacters(in: CharacterSet(charactersIn: "'"))
                return w.hasSuffix("'s") ? String(w.dropLast(2)) : w
            }
            .filter { $0.count >= 3 && !$0.contains("'") && !common.contains($0) && $0.contains(where: \.isLetter) && seen.insert($0).inserted }
        let kept = Set(words.enumerated().sorted { ($0.element.count, -$0.offset) > ($1.element.count, -$1.offset) }
            .prefix(limit).map(\.offset))
        return words.enumerated().filter { kept.contains($0.offset) }.map(\.element)
    }
}
