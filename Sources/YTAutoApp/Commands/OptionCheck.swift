import ArgumentParser
import Foundation
import YTAutoCore

/// Range checks for the numbers of command lines, run in each command's `validate()`, so a value
/// that does not fit (`--lease-seconds 9223372036854775807`, `--grace 1e20s`) exits 2 with the
/// option and its allowed range before anything is opened. The ranges are ``ConfigLimits``'s.
enum OptionCheck {
    /// - Throws: `ValidationError` naming the option, the value and the range.
    /// A `--topic`: not blank, and within ``ConfigLimits/topicCharacters``.
    static func topic(_ text: String?) throws {
        if let text, let problem = ChannelConfig.topicProblem(text) { throw ValidationError("--topic: \(problem)") }
    }

    static func range(_ value: Int, _ range: ClosedRange<Int>, _ option: String) throws {
        guard range.contains(value) else {
            throw ValidationError("\(option) \(value) is out of range: allowed \(ConfigLimits.describe(range))")
        }
    }

    /// A duration option (`30s`, `2m`; `500ms` when `milliseconds`) within `allowed` seconds.
    static func duration(_ text: String, _ option: String, allowed: ClosedRange<Double>, milliseconds: Bool = false) throws -> Duration {
        do {
            let seconds = try DurationText.parse(text, allowed: allowed, milliseconds: milliseconds)
            return .milliseconds(Int64((seconds * 1000).rounded()))
        } catch let problem as DurationText.Problem {
            throw ValidationError("\(option) \(problem.message)")
        }
    }

    /// An age back from now (`7d`, `12h`) of at most ``ConfigLimits/age``, in seconds.
    static func age(_ text: String, _ option: String) throws -> TimeInterval {
        do {
            return try DurationText.parse(text, allowed: ConfigLimits.age)
        } catch let problem as DurationText.Problem {
            throw ValidationError("\(option) \(problem.message)")
        }
    }

    /// The instants a time option may name: what the stored `YYYY-MM-DDTHH:MM:SS.sssZ` text can hold in order.
    static let times = Date(timeIntervalSince1970: 0)...Timestamp.date("9999-12-31T23:59:59.999Z")!

    /// An ISO-8601 time option within ``times``, with its zone: `Z` or an offset (`+01:00`). A time
    /// without one is refused rather than taken as UTC: the operator may have meant the channel's
    /// or the machine's local time.
    static func time(_ text: String, _ option: String) throws -> Date {
        if hasNoZone(text) {
            throw ValidationError("\(option) '\(text)' has no time zone: add Z for UTC or an offset, such as \(text)Z or \(text)+01:00")
        }
        guard let date = YTAutoCommand.Enqueue.parseTime(text) else {
            throw ValidationError("\(option) '\(text)' is not a time that exists in ISO-8601, such as 2026-12-01T18:00:00Z "
                + "(a real date, a time of day up to 23:59:59, an offset up to ±14:00)")
        }
        guard times.contains(date) else {
            throw ValidationError("\(option) '\(text)' is out of range: allowed 1970-01-01T00:00:00Z to 9999-12-31T23:59:59Z")
        }
        return date
    }

    /// Whether an ISO-8601 date and time ends without `Z` or a `±HH:MM` / `±HHMM` offset.
    static func hasNoZone(_ text: String) -> Bool {
        guard text.contains("T") else { return false }
        if text.hasSuffix("Z") || text.hasSuffix("z") { return false }
        let tail = text.suffix(6)
        let offset = tail.drop { $0 != "+" && $0 != "-" }
        let digits = offset.dropFirst().filter { $0 != ":" }
        return !(offset.count >= 5 && digits.count == 4 && digits.allSatisfy(\.isNumber))
    }

    /// `--since`: an age back from now (`7d`) or an ISO-8601 time.
    static func since(_ text: String, now: Date = Date()) throws -> Date {
        if DurationText.seconds(text) != nil { return now.addingTimeInterval(-(try age(text, "--since"))) }
        // A time without its zone is said as `--at`'s is (it was "neither ISO-8601 nor an age").
        if YTAutoCommand.Enqueue.parseTime(text) != nil || hasNoZone(text) { return try time(text, "--since") }
        throw ValidationError("--since '\(text)' is neither ISO-8601 nor an age like 7d")
    }

    /// `--code`: an error code as the store keeps it, `family.reason` in lower case
    /// (`work.stuck`, `youtube.quota_exceeded`). Any such code is accepted, known or not (codes
    /// come from providers' answers too); one of another shape is refused rather than answered
    /// with "no failed jobs".
    static func errorCode(_ text: String) throws {
        guard isErrorCode(text) else { throw ValidationError("--code '\(text)' \(notAnErrorCode)") }
    }

    /// Whether `text` has an error code's shape (the console's `code=` filter checks it too).
    static func isErrorCode(_ text: String) -> Bool {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        let wordOK = { (w: Substring) in !w.isEmpty && w.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "_" } }
        return parts.count >= 2 && parts.allSatisfy(wordOK)
    }

    static let notAnErrorCode = "is not an error code: codes are lower-case words joined by dots, such as work.stuck"
}
