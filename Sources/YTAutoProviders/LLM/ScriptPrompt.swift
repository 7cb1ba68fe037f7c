import Foundation
import YTAutoCore

/// The prompts every script model gets: a system prompt that fixes the JSON shape, and a user
/// prompt with the topic, the channel's voice and the length as a word count.
enum ScriptPrompt {
    /// The system prompt: the answer is one JSON object with four string fields.
    static let system = """
        You write narration scripts for a faceless YouTube channel. The script is read aloud by a \
        text-to-speech voice over still images, so write plain spoken sentences: no headings, lists, \
        emoji, stage directions, sound cues or speaker labels.
        Reply with one JSON object and nothing else (no prose, no code fences), with exactly these \
        string fields: "title" (the video title, at most 100 characters, not read aloud), "hook" \
        (one or two sentences that hold the viewer in the first seconds), "body" (the main narration) \
        and "cta" (a short call to action at the end); and "visuals", a list of strings: for each \
        sentence of the hook, body and cta in order, what to show while it is read, as a stock-footage \
        search of two to four concrete, filmable words (such as "honey jar closeup" or "foggy forest path").
        """

    /// The words the narration should have, as (least, most, aim) for a voice speaking
    /// `wordsPerSecond`. The aim is three quarters into the range, like the offline generator:
    /// the narration stage trims a long script, but cannot lengthen a short one.
    static func words(for channel: ChannelConfig, wordsPerSecond: Double) -> (min: Int, max: Int, target: Int) {
        let r = channel.durationRange
        let lo = Int((Double(r.min) * wordsPerSecond).rounded(.up))
        let hi = Int((Double(r.max) * wordsPerSecond).rounded(.down))
        let aim = Int(((Double(r.min) + 0.75 * Double(r.max - r.min)) * wordsPerSecond).rounded())
        return (lo, max(lo, hi), aim)
    }

    static func user(topic: String, channel: ChannelConfig, wordsPerSecond: Double) -> String {
        let w = words(for: channel, wordsPerSecond: wordsPerSecond)
        let language = channel.spokenLanguage
        // Japanese is measured in characters, as it is counted (``Script/countWords(_:)``).
        let unit = language.spaced ? "words" : "characters"
        var lines = [
            "Write a script for a \(channel.type.rawValue) video about: \(topic)",
            "Style: \(channel.style).",
            "Length: read aloud, the hook, body and cta together must last \(channel.durationRange.min)-\(channel.durationRange.max) seconds, "
                + "which is \(w.min)-\(w.max) \(unit) in total. Aim for about \(w.target) \(unit); most of them belong in the body.",
        ]
        if language != .english {
            lines.append("Write the title, hook, body and cta in \(language.name) (\(channel.language)). Keep the JSON field names in English, "
                         + "and write the visuals in English: stock footage is searched in English.")
        }
        if language == .japanese && channel.services.tts.contains(.espeak) {
            lines.append("Write the Japanese in hiragana and katakana only, with no kanji: the voice reads kana and cannot read kanji. "
                         + "Put a space between phrases, as kana is written for children, so the captions can show a few at a time.")
        }
        switch channel.type {
        case .horror: lines.append("Tell it as a first-person story, fiction, with no real victims or real crimes.")
        case .facts: lines.append("Keep every claim accurate and well known; no medical advice.")
        case .finance: lines.append("Explain, never recommend: no predictions, no promises of returns, no specific products to buy.")
        }
        if !channel.forbiddenTopics.isEmpty {
            lines.append("Never mention or allude to: " + channel.forbiddenTopics.map { "\"\($0)\"" }.joined(separator: ", ") + ".")
        }
        if let disclaimer = channel.type.disclaimer {
            lines.append("The cta must end with this sentence, word for word: \"\(disclaimer)\"")
        }
        lines.append("Reply with the JSON object only.")
        return lines.joined(separator: "\n")
    }

    /// The follow-up after an answer that failed validation.
    static func reask(issues: [String]) -> String {
        "That script has these problems:\n" + issues.map { "- \($0)" }.joined(separator: "\n")
            + "\nRewrite the whole script so that every problem is fixed, on the same topic. Reply with the JSON object only."
    }

    /// The follow-up after an answer that was not the JSON object asked for.
    static func reask(unparseable problem: String) -> String {
        "That answer could not be used: \(problem). Reply with one JSON object only, with the string fields "
            + "\"title\", \"hook\", \"body\" and \"cta\", and no text around it."
    }
}
