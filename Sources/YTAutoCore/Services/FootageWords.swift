import Foundation

/// The words of a scene's narration that say what it shows: a media library's tags are compared
/// with them (``words(_:language:)``, ``tags(_:)``), and a stock provider is searched with them (``searchTerms(_:limit:language:)``).
public enum FootageWords {
    /// One word of a text as it is compared: the word (lower case, accents folded) and the
    /// forms it may take as a singular (``forms(_:language:)``).
    public struct Word: Sendable, Hashable {
        public var word: String
        public var forms: Set<String>
    }

    /// The words of `text` as a scene's narration is compared with a library's tags: lower case,
    /// letters and digits, accents folded (`vacía` is `vacia`, as a file name may spell it), each
    /// with its singular forms, no short words and none of `language`'s common ones (a BCP-47 tag;
    /// English's for a language without a list: a Spanish narration's `que`, `una`, `sea` match
    /// nothing, while an English file named `sea` keeps its word). Japanese in it (whatever the
    /// channel's language: a library's file names say nothing of theirs) is split into its words
    /// by ``japaneseWords(_:)``, so a library tagged `古い家` matches narration that says `家で`;
    /// Chinese, written in the same characters, is split by the same rule (a kanji word counts
    /// from one character). Each word once, in the order the text says them.
    ///
    /// - Parameter language: the text's language; nil for a file's name or tags, whose language
    ///   is unknown (English's common words left out, every language's plurals read).
    public static func words(_ text: String, language: String?) -> [Word] {
        let spanish = language.map { Language.primarySubtag($0) == Language.spanish.code } ?? false
        let common = spanish ? foldedSpanishStopWords : foldedStopWords
        var out: [Word] = [], seen = Set<String>()
        // Compatibility forms as their plain ones (half-width ﾎﾃﾙ as ホテル, full-width ＮＡＳＡ as NASA).
        for token in text.precomposedStringWithCompatibilityMapping.lowercased().split(whereSeparator: { !($0.isLetter || $0.isNumber) }) {
            let pieces = token.contains(where: { Script($0) != .other }) ? japaneseWords(token).map { Substring($0) } : [token]
            for raw in pieces {
                let word: Word
                if raw.first.map(Script.init) != .other {
                    // Not folded: kana's voicing marks are letters of their own (ガ is not カ).
                    guard !japaneseStopWords.contains(String(raw)) else { continue }
                    word = Word(word: String(raw), forms: [String(raw)])
                } else {
                    let w = fold(String(raw))
                    guard w.count >= 3, !common.contains(w) else { continue }
                    word = Word(word: w, forms: forms(w, language: language))
                }
                if seen.insert(word.word).inserted { out.append(word) }
            }
        }
        return out
    }

    /// A library file's tags from its folders, name and sidecar: every form of every word
    /// (``words(_:language:)`` with no language: English's common words left out, since a file's
    /// name may be in any language). A scene's word matches the file when one of its forms is
    /// among them.
    ///
    /// - Parameter language: the channel's (a BCP-47 tag), whose plurals the file's words are read
    ///   as (``forms(_:language:)``): for an English channel a file named `fires` is `fire`, never
    ///   the Spanish reading `fir`; nil reads every language's.
    public static func tags(_ text: String, language: String? = nil) -> Set<String> {
        let found = words(text, language: nil)
        guard let language else { return Set(found.flatMap(\.forms)) }
        return Set(found.flatMap { forms($0.word, language: language) })
    }

    /// Letters that look like another with a mark but are letters of their own, kept by ``fold(_:)``:
    /// Cyrillic `й` (not `и`), Belarusian `ў` (not `у`), Ukrainian `ї` (not `і`).
    static let ownLetters: Set<Character> = ["й", "ў", "ї"]

    /// `word` without its accents (`canción` → `cancion`, `año` → `ano`; `ёлка` → `елка`, as Russian
    /// is often written), for Latin and other alphabets, keeping ``ownLetters`` (`мой` stays, not
    /// `мои`); a word in kana or kanji is never given here.
    static func fold(_ word: String) -> String {
        guard word.contains(where: ownLetters.contains) else { return word.folding(options: .diacriticInsensitive, locale: nil) }
        var out = "", run = ""
        for c in word {
            if ownLetters.contains(c) {
                out += run.folding(options: .diacriticInsensitive, locale: nil) + String(c)
                run = ""
            } else {
                run.append(c)
            }
        }
        return out + run.folding(options: .diacriticInsensitive, locale: nil)
    }

    /// The word and the singulars it may be the plural of, in English and Spanish, so that a word
    /// and its plural meet whichever side says which: `houses` is also `house` (and `hous`, as
    /// `buses` is `bus`), `cities` `city`, `skies` `sky`, `boxes` `box`, `glasses` `glass`,
    /// `octopuses` `octopus`, `olas` `ola`, and in Spanish or a file's name `flores` `flor`,
    /// `ciudades` `ciudad`. A singular stays itself: `scare` never meets `scar`, nor `fire` `fir`.
    /// Never a form of fewer than three letters; words ending in `ss`, `us` or `is` are not plurals
    /// (`glass`, `octopus`, `basis`). English's common irregular plurals are met from a list
    /// (``irregularPlurals``: `wolves` `wolf`, `mice` `mouse`, `children` `child`), and Spanish's
    /// `-ces` of a `-z` (`luces` `luz`, `peces` `pez`).
    /// - Parameter language: Spanish (or nil, a file's words) also reads `-es` after any consonant
    ///   as a plural's ending, and `-ces` as `-z`; English only after `s`, `x`, `z`, `ch` and `sh`
    ///   (else `fires` would meet `fir`).
    public static func forms(_ word: String, language: String?) -> Set<String> {
        var out: Set<String> = [word]
        func add(_ form: String) { if form.count >= 3 { out.insert(form) } }
        let spanishToo = language.map { Language.primarySubtag($0) == Language.spanish.code } ?? true
        if let singular = irregularPlurals[word] { add(singular) }
        if word.hasSuffix("ies"), word.count >= 5 { add(String(word.dropLast(3)) + "y") }
        if word.hasSuffix("es") {
            add(String(word.dropLast()))
            let stem = String(word.dropLast(2))
            let afterConsonant = stem.last.map { $0.isLetter && !"aeiouy".contains($0) } ?? false
            if ["s", "x", "z", "ch", "sh"].contains(where: stem.hasSuffix) || (spanishToo && afterConsonant) { add(stem) }
            if spanishToo, stem.hasSuffix("c") { add(String(stem.dropLast()) + "z") }
        } else if word.hasSuffix("s"), !["ss", "us", "is"].contains(where: word.hasSuffix) {
            add(String(word.dropLast()))
        }
        return out
    }

    /// English plurals that no ending rule reads, each with its singular (of three letters or
    /// more, as every form is).
    public static let irregularPlurals: [String: String] = [
        "men": "man", "women": "woman", "children": "child", "people": "person", "mice": "mouse", "lice": "louse",
        "geese": "goose", "feet": "foot", "teeth": "tooth", "wolves": "wolf", "knives": "knife", "wives": "wife",
        "lives": "life", "leaves": "leaf", "halves": "half", "shelves": "shelf", "thieves": "thief", "loaves": "loaf",
        "calves": "calf", "elves": "elf", "hooves": "hoof", "scarves": "scarf", "cacti": "cactus",
        "fungi": "fungus", "indices": "index", "matrices": "matrix", "criteria": "criterion", "phenomena": "phenomenon",
        "firemen": "fireman", "fishermen": "fisherman", "policemen": "policeman", "snowmen": "snowman",
    ]

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

    /// Japanese words too common to show anything, and a call to action's.
    public static let japaneseStopWords: Set<String> = [
        "私", "僕", "俺", "彼", "彼女", "自分", "今", "今日", "昨日", "明日", "時", "事", "物", "人", "中", "方", "何", "本当",
        "全部", "最後", "最初", "最", "第", "次", "前", "後", "日", "年", "数", "皆", "一", "二", "三", "実", "実際", "誰", "様", "的",
        "動画", "登録", "評価", "高評価", "通知", "チャンネル", "フォロー", "コメント", "シェア", "ビデオ", "ストーリー",
    ]

    /// The stop words as ``words(_:language:)`` compares them: accents folded.
    static let foldedStopWords = Set(stopWords.map(fold))
    static let foldedSpanishStopWords = Set(spanishStopWords.map(fold))

    /// The common words of a language (its primary subtag): English's for a language without a list.
    public static func stopWords(forLanguage tag: String) -> Set<String> {
        switch Language.primarySubtag(tag) {
        case Language.spanish.code: spanishStopWords
        case Language.japanese.code: japaneseStopWords
        default: stopWords
        }
    }

    /// How a character is written, as far as finding Japanese words goes.
    enum Script: Equatable {
        case kanji, hiragana, katakana, other

        init(_ c: Character) {
            switch c.unicodeScalars.first?.value ?? 0 {
            // 々 repeats a kanji, 〆 and 〇 are written as kanji, and the small ヶ and ヵ are read inside
            // kanji words (霞ヶ関, 三ヶ月); the extension planes hold rarer kanji (𠮟).
            case 0x4E00...0x9FFF, 0x3400...0x4DBF, 0xF900...0xFAFF, 0x20000...0x2FA1F, 0x3005...0x3007, 0x30F5, 0x30F6: self = .kanji
            case 0x3041...0x309F: self = .hiragana
            case 0x30A1...0x30FF, 0x31F0...0x31FF, 0xFF66...0xFF9F: self = .katakana // ー included
            default: self = .other
            }
        }
    }

    /// What a noun's following hiragana begin with: particles, the copula `だ` and the `な` of an
    /// adjectival noun. A run of kanji that other hiragana follow is the stem of a verb or
    /// adjective whose ending is written in hiragana (`聞こえた`, `古い`), and shows nothing alone.
    static let particles = ["の", "が", "を", "に", "で", "は", "も", "へ", "や", "な", "と", "だ",
                            "から", "まで", "より", "など", "ほど", "くらい", "ぐらい", "ばかり", "だけ"]
    /// Endings of verbs and adjectives that begin like a particle: `見ない`, `上がる`, `落とす`,
    /// `冷やす`, `積もった` are stems, not nouns.
    static let stemEndings = ["ない", "なく", "なかっ", "なけれ", "なさ", "がる", "がり", "がっ", "がれ", "がろ", "がら",
                              "とす", "とせ", "とさ", "やす", "やし", "やさ", "やせ", "もる", "もり", "もっ", "もれ"]

    /// The words of one space-less run of Japanese text that name what could be filmed: runs of
    /// kanji that end the text or are followed by katakana, other script, or a particle
    /// (``particles``, unless the hiragana are a verb's or adjective's ending, ``stemEndings``)
    /// (nouns: `古い家で奇妙な音が聞こえた` gives `家`, `奇妙`, `音`), and runs of two or more
    /// katakana (loanwords: `ホテル`). Text in other scripts within it (`NASA`) is kept whole.
    /// Japanese is written without spaces and ytauto carries no dictionary, so this is a heuristic
    /// of its writing system, not a segmenter: a noun written in hiragana is not found.
    public static func japaneseWords(_ text: Substring) -> [String] {
        var runs: [(script: Script, text: String)] = []
        for c in text {
            let script = Script(c)
            if let last = runs.last, last.script == script { runs[runs.count - 1].text.append(c) } else { runs.append((script, String(c))) }
        }
        return runs.indices.compactMap { i -> String? in
            let run = runs[i]
            switch run.script {
            case .kanji:
                guard runs.indices.contains(i + 1), runs[i + 1].script == .hiragana else { return run.text }
                let after = runs[i + 1].text
                if stemEndings.contains(where: after.hasPrefix) { return nil }
                return particles.contains(where: after.hasPrefix) ? run.text : nil
            case .katakana: return run.text.count >= 2 ? run.text : nil
            case .hiragana: return nil
            case .other: return run.text
            }
        }
    }

    /// Up to `limit` words of `text` to search a stock provider with: the longest words that are
    /// not common ones in `language` (a BCP-47 tag; the most specific, "lighthouse" before
    /// "light"), kept in the order the sentence says them, each once, in lower case. Japanese
    /// text is split into words by ``japaneseWords(_:)``.
    public static func searchTerms(_ text: String, limit: Int = 3, language: String = "en") -> [String] {
        let common = stopWords(forLanguage: language)
        let japanese = Language.primarySubtag(language) == Language.japanese.code
        var seen = Set<String>()
        // A possessive is its noun ("octopus's" → "octopus"); other contractions ("don't") say nothing to search.
        let runs: [Substring] = text.precomposedStringWithCompatibilityMapping.lowercased().replacingOccurrences(of: "\u{2019}", with: "'")
            .split(whereSeparator: { !($0.isLetter || $0.isNumber || $0 == "'") })
        let pieces: [Substring] = japanese ? runs.flatMap { japaneseWords($0).map { Substring($0) } } : runs
        func searchable(_ w: String) -> Bool {
            // A Japanese word is short in characters (`家`, a house): kanji and kana words count from one.
            let longEnough = w.count >= 3 || (japanese && w.first.map(Script.init) != .other)
            return longEnough && !w.contains("'") && !common.contains(w) && w.contains(where: \.isLetter)
        }
        let words = pieces
            .map { word -> String in
                let w = word.trimmingCharacters(in: CharacterSet(charactersIn: "'"))
                return w.hasSuffix("'s") ? String(w.dropLast(2)) : w
            }
            .filter { searchable($0) && seen.insert($0).inserted }
        let kept = Set(words.enumerated().sorted { ($0.element.count, -$0.offset) > ($1.element.count, -$1.offset) }
            .prefix(limit).map(\.offset))
        return words.enumerated().filter { kept.contains($0.offset) }.map(\.element)
    }
}
