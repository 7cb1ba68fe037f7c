import Foundation

/// Characters that are not shown but act: a terminal's escapes (ESC, BEL), line breaks, and the
/// format characters that reverse or hide text (U+202E, U+200B). Text that came from outside (an
/// LLM's title, a provider's error, a reason typed in the console) is refused where it is taken
/// in, when it has them, and shown with them made visible where it is printed.
public enum TextControls {
    /// `U+001B (a control character)`.
    public static func describe(_ scalar: Unicode.Scalar) -> String {
        let kind = scalar.properties.generalCategory == .control ? "a control character" : "an invisible format character"
        return String(format: "U+%04X", scalar.value) + " (\(kind))"
    }

    /// The first character that may not stand in one line of visible text (a topic, which becomes
    /// a title, captions and a folder's name): any control or format character.
    public static func firstInLine(_ text: String) -> Unicode.Scalar? {
        text.unicodeScalars.first { [.control, .format].contains($0.properties.generalCategory) }
    }

    /// The first character that may not stand in plain text of several lines (a rejection's
    /// reason): a control character other than a line break or a tab, or a direction override.
    public static func firstInPlainText(_ text: String) -> Unicode.Scalar? {
        text.unicodeScalars.first { !["\n", "\r", "\t"].contains($0) && ($0.properties.generalCategory == .control || $0.properties.isBidiControl) }
    }

    /// `text` for one line of a terminal or a log: line breaks and tabs as spaces, other control
    /// and format characters as `\u{1B}`, so that nothing it holds acts on the terminal or forges
    /// a line.
    public static func visible(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: isHidden) else { return text }
        var out = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            if scalar == "\n" || scalar == "\r" || scalar == "\t" {
                out.append(" ")
            } else if isHidden(scalar) {
                out.append(contentsOf: "\\u{\(String(scalar.value, radix: 16, uppercase: true))}".unicodeScalars)
            } else {
                out.append(scalar)
            }
        }
        return String(out)
    }

    static func isHidden(_ scalar: Unicode.Scalar) -> Bool {
        let category = scalar.properties.generalCategory
        // The joiners keep emoji and some scripts whole; they act on nothing else.
        return category == .control || (category == .format && scalar != "\u{200D}" && scalar != "\u{200C}")
    }
}
