import Foundation

/// Durations in configuration and on the command line: `90s`, `30m`, `6h`, `2d` (and `500ms`
/// where an option allows it).
///
/// Every caller gives the range it accepts: a number such as `1e300d` parses as a Double but does
/// not fit an `Int` or a `Duration`, and converting it trapped (exit 132). ``parse(_:allowed:milliseconds:)``
/// refuses it with the allowed range in the message instead.
public enum DurationText {
    /// A duration that cannot be used, with a message naming the value and what is allowed.
    public struct Problem: Error, Sendable, Hashable, CustomStringConvertible {
        public let message: String
        public var description: String { message }
    }

    /// The seconds of `text`, or nil when it is not a duration at all (no range check).
    public static func seconds(_ text: String) -> Double? {
        let t = text.trimmingCharacters(in: .whitespaces)
        guard let unit = t.last, let n = Double(t.dropLast()), n >= 0, n.isFinite else { return nil }
        // Double("0x10") and Double("nan") parse; only plain decimal numbers are durations.
        guard t.dropLast().allSatisfy({ $0.isASCII && ($0.isNumber || $0 == "." || $0 == "e" || $0 == "E" || $0 == "+" || $0 == "-") }) else { return nil }
        switch unit {
        case "d": return n * 86_400
        case "h": return n * 3_600
        case "m": return n * 60
        case "s": return n
        default: return nil
        }
    }

    /// The seconds of `text`, checked against `allowed` (in seconds).
    /// - Parameter milliseconds: also accept `500ms`.
    /// - Throws: ``Problem`` saying the text is not a duration, or is outside `allowed`.
    public static func parse(_ text: String, allowed: ClosedRange<Double>, milliseconds: Bool = false) throws -> Double {
        let examples = milliseconds ? "500ms, 30s, 2m, 6h or 2d" : "30s, 30m, 6h or 2d"
        var value: Double?
        if milliseconds, text.hasSuffix("ms") {
            let number = text.dropLast(2)
            if !number.isEmpty, number.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == ".") }), let n = Double(number), n.isFinite {
                value = n / 1000
            }
        } else {
            value = seconds(text)
        }
        guard let value else { throw Problem(message: "'\(text)' is not a duration such as \(examples)") }
        guard allowed.contains(value) else {
            throw Problem(message: "'\(text)' is out of range: allowed \(describe(allowed))")
        }
        return value
    }

    /// `0s to 30d`: a range of seconds in the units an operator would write.
    public static func describe(_ range: ClosedRange<Double>) -> String {
        "\(text(range.lowerBound)) to \(text(range.upperBound))"
    }

    static func text(_ seconds: Double) -> String {
        if seconds < 1 && seconds > 0 { return "\(Int((seconds * 1000).rounded()))ms" }
        return string(seconds: Int(seconds.rounded()))
    }

    public static func string(seconds: Int) -> String {
        if seconds % 86_400 == 0 && seconds > 0 { return "\(seconds / 86_400)d" }
        if seconds % 3_600 == 0 && seconds > 0 { return "\(seconds / 3_600)h" }
        if seconds % 60 == 0 && seconds > 0 { return "\(seconds / 60)m" }
        return "\(seconds)s"
    }
}
