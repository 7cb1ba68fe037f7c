import Foundation

/// The ranges every number of the configuration and the command lines must fall in.
///
/// They are wide enough for any real use and narrow enough that no arithmetic on them can
/// overflow (an `Int`, a `Duration`, a date past year 9999): a value outside is refused where it is
/// parsed, naming the key or option and this range. README's Configuration and Commands sections list them.
public enum ConfigLimits {
    // Channel keys.
    /// `duration.min` and `duration.max`, seconds of video: 1 s to 12 h (YouTube's longest upload).
    public static let videoSeconds = 1...43_200
    public static let maxAttempts = 1...100
    /// A channel's `name`, in characters (it names folders).
    public static let channelNameCharacters = 1...64
    /// A topic, from `topics:` or `--topic`, in characters: a title holds 100, a prompt a few of them.
    public static let topicCharacters = 1...300
    /// `priority` of a channel and `ytauto enqueue --priority`.
    public static let priority = -1_000_000...1_000_000
    public static let topicRecencyDays = 0...3_650
    public static let footageReuseDays = 0...3_650
    /// `duplicate_sentences_percent`.
    public static let percent = 0...100
    /// `duplicate_thumbnail_bits`: of a 64-bit hash.
    public static let hashBits = 0...64
    /// `catch_up_window`: up to 30 days (a scheduler down longer than that should not flood the queue).
    public static let catchUpWindow: ClosedRange<Double> = 0...(30 * 86_400)

    // Provider keys.
    public static let stableDiffusionSteps = 1...150
    public static let youtubeDailyQuota = 1...100_000_000
    public static let youtubeCost = 0...100_000_000
    /// `chunk_mib`: YouTube's resumable upload takes chunks of any multiple of 256 KiB; 1–1024 MiB.
    public static let youtubeChunkMiB = 1...1_024
    /// `publish_after_hours`: up to a year.
    public static let publishAfterHours = 0...8_760

    // Command-line options.
    /// Ages back from now (`--since`, `prune --older-than`): up to 100 years.
    public static let age: ClosedRange<Double> = 0...(36_500 * 86_400)
    /// `worker --grace`: up to an hour (a unit's TimeoutStopSec must exceed it).
    public static let grace: ClosedRange<Double> = 0...3_600
    /// `scheduler --max-sleep`: 100 ms to an hour.
    public static let maxSleep: ClosedRange<Double> = 0.1...3_600
    /// `auth youtube --timeout`: 1 s to a day.
    public static let authTimeout: ClosedRange<Double> = 1...86_400
    /// `worker --stage-timeout`: 1 s to a week.
    public static let stageTimeout: ClosedRange<Double> = 1...(7 * 86_400)
    /// `worker --lease-seconds`: 3 s (heartbeats every second) to an hour.
    public static let leaseSeconds = 3...3_600
    public static let concurrency = 1...256
    /// `--synthetic-stage-ms`: up to an hour.
    public static let syntheticStageMs = 0...3_600_000
    /// `--limit` of list commands.
    public static let listLimit = 1...1_000_000
    public static let batchSize = 1...100_000
    /// `quota --days`: up to ten years.
    public static let quotaDays = 1...3_660
    public static let port = 0...65_535

    /// `text` as a decimal whole number (`42`, `-7`, `1_000`) in `range`, or the message saying why
    /// not (`'x' is not a whole number`, `99999999999999999999 is out of range: allowed 1 to 100`).
    ///
    /// Used instead of the YAML library's own integer reading, which also takes octal (`010` is 8)
    /// and base-60 forms (`1:30`) and traps on a base-60 number too large for an `Int`. A leading
    /// zero is refused rather than read either way.
    public static func wholeNumber(_ text: String, in range: ClosedRange<Int>) -> Result<Int, DurationText.Problem> {
        let t = text.replacingOccurrences(of: "_", with: "")
        let digits = t.hasPrefix("-") || t.hasPrefix("+") ? t.dropFirst() : Substring(t)
        guard !digits.isEmpty, digits.allSatisfy({ $0.isASCII && $0.isNumber }) else {
            return .failure(.init(message: "'\(text)' is not a whole number"))
        }
        // YAML 1.1 reads `010` as octal 8; a reader of the file may take it either way, so neither is guessed.
        if digits.count > 1, digits.first == "0" {
            return .failure(.init(message: "'\(text)' has a leading zero, which YAML may read as octal: write it without (10, or 8 if octal was meant)"))
        }
        guard let n = Int(t), range.contains(n) else {
            return .failure(.init(message: "\(text) is out of range: allowed \(describe(range))"))
        }
        return .success(n)
    }

    /// "1 to 100", the allowed range in a key or option's message.
    public static func describe(_ range: ClosedRange<Int>) -> String {
        "\(range.lowerBound) to \(range.upperBound)"
    }
}

extension KeyedDecodingContainer {
    /// A whole number in `range`, or nil when the key is absent.
    /// - Throws: `DecodingError` naming the key when the value is not a decimal whole number or is out of range.
    public func decodeWholeNumber(forKey key: Key, in range: ClosedRange<Int>) throws -> Int? {
        guard contains(key) else { return nil }
        if try decodeNil(forKey: key) { return nil }
        let text: String
        do {
            text = try decode(String.self, forKey: key)
        } catch {
            throw DecodingError.dataCorruptedError(forKey: key, in: self, debugDescription: "expected a whole number")
        }
        switch ConfigLimits.wholeNumber(text, in: range) {
        case .success(let n): return n
        case .failure(let problem): throw DecodingError.dataCorruptedError(forKey: key, in: self, debugDescription: problem.message)
        }
    }
}
