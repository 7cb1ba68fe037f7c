import Foundation
import YTAutoCore
import YTAutoSupport

/// A new video against its channel's recent ones (``ChannelHistory``): YouTube demonetises
/// channels whose videos repeat each other, so a near-duplicate fails its job before it is
/// published, with `video.near_duplicate` (not retried: the same inputs would make the same).
///
/// - **Script**: the share of the new script's sentences (lower case, letters and digits only)
///   that one recent script of the channel also has; at `duplicate_sentences_percent` or more it
///   is a near-duplicate. Checked by the script stage, before anything is narrated or drawn.
/// - **Thumbnail**: a 64-bit difference hash (the picture shrunk to 9×8 grey, each bit whether a
///   pixel is brighter than its right neighbour); within `duplicate_thumbnail_bits` bits of a
///   recent thumbnail's it is a near-duplicate. Checked by the thumbnail stage, which records
///   the hash in the history.
///
/// 0 turns either check off. A job's own earlier entry (its stage run again) is never compared.
public enum NearDuplicates {
    /// A sentence as compared: lower case, words of letters and digits, single spaces.
    static func normalised(_ sentence: String) -> String {
        sentence.lowercased().split(whereSeparator: { !($0.isLetter || $0.isNumber) }).joined(separator: " ")
    }

    /// The share (0–1) of `sentences` that `earlier` also has.
    public static func overlap(_ sentences: [String], with earlier: [String]) -> Double {
        share(of: distinct(sentences), in: earlier)
    }

    /// `sentences` as the check compares them: normalised, distinct, none empty.
    static func distinct(_ sentences: [String]) -> Set<String> {
        Set(sentences.map(normalised).filter { !$0.isEmpty })
    }

    /// The share (0–1) of `new` (``distinct(_:)``) that `earlier` also has.
    static func share(of new: Set<String>, in earlier: [String]) -> Double {
        guard !new.isEmpty else { return 0 }
        return Double(new.intersection(earlier.map(normalised)).count) / Double(new.count)
    }

    /// The recent entry whose script repeats the most of `sentences`, if that reaches `percent`.
    public static func repeatedScript(_ sentences: [String], recent: [ChannelHistory.Entry], percent: Int) -> (entry: ChannelHistory.Entry, share: Double)? {
        guard percent > 0 else { return nil }
        let new = distinct(sentences)  // once, not once for each recent script
        let scored = recent.map { e in
            (entry: e, share: share(of: new, in: [e.script.hook, e.script.body, e.script.cta].flatMap(Sentences.split)))
        }
        guard let worst = scored.max(by: { $0.share < $1.share }), worst.share * 100 >= Double(percent) - 1e-9 else { return nil }
        return worst
    }

    /// The difference hash of the picture at `path`, as 16 hex digits.
    public static func differenceHash(of path: String, tools: ToolRunner) async throws -> String {
        let raw = Files.temporary(for: path + ".dhash.gray")
        defer { try? FileManager.default.removeItem(atPath: raw) }
        try await tools.run(.ffmpeg, ToolRunner.ffmpegQuiet + ["-i", path, "-vf", "scale=9:8:flags=area,format=gray",
                                                              "-frames:v", "1", "-f", "rawvideo", raw])
        let b = [UInt8](try Data(contentsOf: URL(fileURLWithPath: raw)))
        guard b.count == 72 else {
            throw FFmpegError(command: ["ffmpeg", path], exitStatus: 0, stderrTail: "a 9×8 grey picture has \(b.count) bytes, not 72")
        }
        var hash: UInt64 = 0
        for row in 0..<8 { for col in 0..<8 { hash = hash << 1 | (b[row * 9 + col] > b[row * 9 + col + 1] ? 1 : 0) } }
        return String(format: "%016llx", hash)
    }

    /// How many bits two hashes differ in; nil if either is not a hash.
    public static func distance(_ a: String, _ b: String) -> Int? {
        guard let x = UInt64(a, radix: 16), let y = UInt64(b, radix: 16) else { return nil }
        return (x ^ y).nonzeroBitCount
    }

    /// The recent entry whose thumbnail is nearest `hash`, if within `bits`.
    public static func repeatedThumbnail(_ hash: String, recent: [ChannelHistory.Entry], bits: Int) -> (entry: ChannelHistory.Entry, distance: Int)? {
        guard bits > 0 else { return nil }
        let scored = recent.compactMap { e in e.thumbnailHash.flatMap { distance(hash, $0) }.map { (entry: e, distance: $0) } }
        guard let nearest = scored.min(by: { $0.distance < $1.distance }), nearest.distance <= bits else { return nil }
        return nearest
    }
}

/// A video too like one its channel made lately (``NearDuplicates``).
public struct NearDuplicateError: YTAutoError {
    public let what: String
    public var code: String { "video.near_duplicate" }
    public var message: String { what }
    public var isRetryable: Bool { false }
}
