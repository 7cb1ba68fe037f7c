import Foundation
import YTAutoCore
import YTAutoSupport

#if canImport(Glibc)
import Glibc
#endif

/// What a channel said lately: the scripts of its last ``limit`` jobs, newest first, so the
/// offline writer does not repeat itself (``TemplateScriptGenerator`` prefers the hooks, titles,
/// calls to action and body sentences the channel has gone longest without).
///
/// One JSON file a channel, `<work>/history/<channel>.json`, written by the script stage once a
/// script has passed validation (a job's script made again replaces its entry). Workers on one
/// host share it: each change holds an exclusive `flock` on `<channel>.json.lock` and replaces the
/// file atomically, so two workers writing at once both land and a reader never sees half a file.
/// On several hosts each host keeps its own (the work folder is per host), so variety is per host.
/// A file that cannot be read as history is set aside as `<channel>.json.broken` and the history
/// starts again: losing it costs some variety, never a video.
public struct ChannelHistory: Sendable {
    public struct Entry: Sendable, Codable, Hashable {
        public var job: Int64
        public var at: Date
        public var topic: String
        public var script: Script
        /// The difference hash of its thumbnail (``NearDuplicates``), once the thumbnail stage made it.
        public var thumbnailHash: String?
        public init(job: Int64, at: Date, topic: String, script: Script, thumbnailHash: String? = nil) {
            self.job = job
            self.at = at
            self.topic = topic
            self.script = script
            self.thumbnailHash = thumbnailHash
        }
    }

    public let folder: URL
    public let limit: Int

    public init(folder: URL, limit: Int = 50) {
        self.folder = folder
        self.limit = limit
    }

    func file(_ channel: String) -> URL {
        // A channel's name is checked by the config (letters, digits, dashes); encode anything else.
        let safe = channel.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-_"))) ?? channel
        return folder.appending(path: safe + ".json")
    }

    /// The channel's recent entries, newest first (none if it has no history yet).
    public func recent(_ channel: String) throws -> [Entry] {
        try locked(channel) { read(channel) }
    }

    /// Records `entry` as the channel's newest, replacing an earlier entry of the same job.
    public func record(_ entry: Entry, channel: String) throws {
        try locked(channel) {
            var entries = read(channel).filter { $0.job != entry.job }
            entries.insert(entry, at: 0)
            try write(entries, channel)
        }
    }

    /// Sets the thumbnail hash of `job`'s entry; nothing if the job has none (its script was
    /// written before the history kept it, or on another host).
    public func recordThumbnail(_ hash: String, job: Int64, channel: String) throws {
        try locked(channel) {
            var entries = read(channel)
            guard let i = entries.firstIndex(where: { $0.job == job }) else { return }
            entries[i].thumbnailHash = hash
            try write(entries, channel)
        }
    }

    private func write(_ entries: [Entry], _ channel: String) throws {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try Files.writeNow(try encoder.encode(Array(entries.prefix(limit))), to: file(channel).path)
    }

    private func read(_ channel: String) -> [Entry] {
        let target = file(channel)
        guard let data = FileManager.default.contents(atPath: target.path) else { return [] }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        if let entries = try? decoder.decode([Entry].self, from: data) { return entries }
        try? FileManager.default.removeItem(atPath: target.path + ".broken")
        try? FileManager.default.moveItem(atPath: target.path, toPath: target.path + ".broken")
        return []
    }

    private func locked<T>(_ channel: String, _ body: () throws -> T) throws -> T {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let lockPath = file(channel).path + ".lock"
        let fd = open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        defer { close(fd) }
        guard flock(fd, LOCK_EX) == 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        defer { flock(fd, LOCK_UN) }
        return try body()
    }
}
