import Foundation

/// How a voice speaks: the engine-independent part of a TTS request.
public struct VoiceSettings: Sendable, Codable, Hashable {
    public var voiceID: String
    /// Speaking rate, 1.0 is the voice's normal rate.
    public var rate: Double
    /// Pitch shift, 1.0 is the voice's normal pitch.
    public var pitch: Double

    public init(voiceID: String, rate: Double = 1.0, pitch: Double = 1.0) {
        self.voiceID = voiceID
        self.rate = rate
        self.pitch = pitch
    }
}

/// A piece of narration: the seed's `AudioSegment(content, voiceSettings, duration)`.
public struct AudioSegment: Sendable, Codable, Hashable {
    public var content: String
    public var voiceSettings: VoiceSettings
    /// Measured duration in seconds (from the audio file, never estimated from word counts).
    public var duration: Double
    public var path: String?
    /// Where each spoken word starts and ends, in seconds from the start of this audio, as the
    /// engine reported them (`nil`: it reports none; the narration stage then estimates them).
    public var words: [WordTiming]?

    public init(content: String, voiceSettings: VoiceSettings, duration: Double, path: String? = nil, words: [WordTiming]? = nil) {
        self.content = content
        self.voiceSettings = voiceSettings
        self.duration = duration
        self.path = path
        self.words = words
    }
}

/// One spoken word of a narration: the word as the script writes it (with the punctuation
/// around it, as a caption shows it) and where its sound starts and ends, in seconds.
public struct WordTiming: Sendable, Codable, Hashable {
    public var word: String
    public var start: Double
    public var end: Double
    public init(word: String, start: Double, end: Double) {
        self.word = word
        self.start = start
        self.end = end
    }

    /// Whether word timings came from the engine that made the sound (`exact`: espeak-ng reports each
    /// word as it synthesises it, ElevenLabs aligns each character) or were fitted to the text
    /// afterwards (`estimated`).
    public enum Source: String, Sendable, Codable, Hashable {
        case exact, estimated
    }

    /// The words of `text` as a caption shows them: whitespace-separated pieces that have a letter
    /// or a digit (a lone dash is not spoken), each with its range of Unicode scalars (from 0).
    public static func tokens(_ text: String) -> [(word: String, scalars: Range<Int>)] {
        var out: [(String, Range<Int>)] = []
        var current = String.UnicodeScalarView()
        var start = 0
        var i = 0
        func flush() {
            let word = String(current)
            if word.unicodeScalars.contains(where: { CharacterSet.alphanumerics.contains($0) }) { out.append((word, start..<i)) }
            current = .init()
        }
        for scalar in text.unicodeScalars {
            if CharacterSet.whitespacesAndNewlines.contains(scalar) {
                if !current.isEmpty { flush() }
            } else {
                if current.isEmpty { start = i }
                current.append(scalar)
            }
            i += 1
        }
        if !current.isEmpty { flush() }
        return out
    }

    /// The words of `tokens` placed at `starts` (one for each, `nil` where none is known): each
    /// word ends where the next begins, the last at `end`; a word with no start, or one before the
    /// word ahead of it, is put where that one starts; nothing goes past `end`.
    public static func placed(_ tokens: [(word: String, scalars: Range<Int>)], starts: [Double?], end: Double) -> [WordTiming] {
        var out: [WordTiming] = []
        var previous = 0.0
        for (k, token) in tokens.enumerated() {
            let start = min(end, max(previous, (k < starts.count ? starts[k] : nil) ?? previous))
            out.append(WordTiming(word: token.word, start: start, end: end))
            if k > 0 { out[k - 1].end = start }
            previous = start
        }
        return out
    }

    /// The words of `text` from a per-character alignment, as ElevenLabs' `with-timestamps`
    /// endpoint gives it: the characters of the text it was sent, in order, each with its start
    /// in seconds. A word starts where its first character does. `nil` when the characters do not
    /// spell `text` exactly (then they cannot be trusted to belong to its words).
    public static func aligned(_ text: String, characters: [String], starts: [Double], end: Double) -> [WordTiming]? {
        guard characters.count == starts.count, characters.joined() == text else { return nil }
        var scalarStarts: [Double] = []
        scalarStarts.reserveCapacity(text.unicodeScalars.count)
        for (c, t) in zip(characters, starts) { scalarStarts += repeatElement(t, count: c.unicodeScalars.count) }
        let tokens = tokens(text)
        return placed(tokens, starts: tokens.map { scalarStarts[$0.scalars.lowerBound] }, end: end)
    }

    /// Timings fitted to `text` within where the sound has speech: `speech` is the sentence's
    /// stretches of sound between its pauses, in order, as measured from the audio. When there are
    /// as many stretches as clauses (a clause ends at `,;:.!?—`), each clause is fitted to its own
    /// stretch, since a speaker pauses at clause ends; otherwise the words are fitted to the span
    /// from the first stretch's start to the last one's end (the leading and trailing silence left
    /// out). With no stretch, to `whole`.
    public static func estimate(_ text: String, speech: [ClosedRange<Double>], whole: ClosedRange<Double>) -> [WordTiming] {
        guard let first = speech.first, let last = speech.last else { return estimate(text, span: whole) }
        let words = tokens(text).map(\.word)
        var clauses: [[String]] = [[]]
        for (i, w) in words.enumerated() {
            clauses[clauses.count - 1].append(w)
            if w.last.map({ ",;:.!?\u{2014}".contains($0) }) == true, i < words.count - 1 { clauses.append([]) }
        }
        guard clauses.count == speech.count, clauses.count > 1 else {
            return estimate(text, span: first.lowerBound...last.upperBound)
        }
        return zip(clauses, speech).flatMap { clause, span in estimate(clause.joined(separator: " "), span: span) }
    }

    /// Timings fitted to `text` when the engine gave none: the words share the audio's `span` in
    /// proportion to their letters (a rough measure of their syllables), with a short pause
    /// counted after a word that ends a clause. Recorded as ``Source/estimated``.
    public static func estimate(_ text: String, span: ClosedRange<Double>) -> [WordTiming] {
        let words = tokens(text).map(\.word)
        guard !words.isEmpty else { return [] }
        let pause = 2.0
        let weights = words.map { w -> Double in
            max(2, Double(w.unicodeScalars.filter { CharacterSet.alphanumerics.contains($0) }.count))
        }
        let pauses = words.map { w in w.last.map { ",;:.!?\u{2014}".contains($0) } == true ? pause : 0 }
        let total = zip(weights, pauses).reduce(0) { $0 + $1.0 + $1.1 } - (pauses.last ?? 0)
        let scale = (span.upperBound - span.lowerBound) / max(total, 1)
        var t = span.lowerBound
        var out: [WordTiming] = []
        for (i, w) in words.enumerated() {
            let end = i == words.count - 1 ? span.upperBound : t + weights[i] * scale
            out.append(WordTiming(word: w, start: t, end: end))
            t = end + pauses[i] * scale
        }
        return out
    }
}

