import Foundation
import YTAutoCore
import YTAutoSupport

#if canImport(Glibc)
import Glibc
#endif

/// What a channel said lately: the scripts of its last ``limit`` jobs, newest first, so the
/// offline writer does not repeat itself (``TemplateScriptGenerator`` prefers the hooks, titles,
/// calls to action and body sentences the channel has gone longest without), and their
/// thumbnails' hashes, so that a near duplicate is stopped (``NearDuplicates``).
///
/// Kept in the job store (``ChannelHistoryLedger``, the `channel_history` table) when the pipeline
/// has one, as every worker's does: workers on every host, SQLite's or PostgreSQL's, compare a new
/// video with the same recent ones. An entry whose script cannot be read back is left out: losing
/// it costs some variety, never a video.
///
/// Without a store (a render benchmark, a test), one JSON file a channel, `<folder>/<channel>.json`:
/// each change holds an exclusive `flock` on `<channel>.json.lock` and replaces the file
/// atomically, so two writers at once both land and a reader never sees half a file. A file that
/// cannot be read as history is set aside as `<channel>.json.broken` and the history starts again.
/// (Before the store kept it, workers kept it so under `<work_dir>/history/`, one per host: each
/// host's file of a channel is taken into the store the first time that host reads the channel's
/// history, merged by time with what other hosts' files and new jobs put there.)
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

    enum Keeper: Sendable {
        /// The store, and the folder of the files an earlier version kept, imported once a channel.
        case store(any ChannelHistoryLedger, earlier: URL?)
        case files(URL)
    }

    let keeper: Keeper
    public let limit: Int

    /// The history in the job store.
    ///
    /// - Parameter earlier: where an earlier version kept it in files (`<work_dir>/history/`). A
    ///   channel's file there is taken into the store the first time the channel's history is
    ///   read (with its entries' own times, never over an entry written meanwhile, whatever the
    ///   store holds already: every host's file counts), and the file is renamed
    ///   `<channel>.json.imported`: the first videos after an upgrade are still compared with the
    ///   ones made before it on every host.
    public init(store: any ChannelHistoryLedger, limit: Int = 50, earlier: URL? = nil) {
        self.keeper = .store(store, earlier: earlier)
        self.limit = limit
    }

    /// The history in files under `folder`.
    public init(folder: URL, limit: Int = 50) {
        self.keeper = .files(folder)
        self.limit = limit
    }

    func file(_ folder: URL, _ channel: String) -> URL {
        // A channel's name is checked by the config (letters, digits, dashes); encode anything else.
        let safe = channel.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-_"))) ?? channel
        return folder.appending(path: safe + ".json")
    }

    /// The channel's recent entries, newest first (none if it has no history yet).
    public func recent(_ channel: String) async throws -> [Entry] {
        switch keeper {
        case .store(let store, let earlier):
            // Each host's file, whether or not another host's is in already (a stat once it is in).
            if let earlier { try await importFile(earlier, channel, into: store) }
            return Self.entries(try await store.channelHistory(channel: channel, limit: limit))
        case .files(let folder):
            return try locked(folder, channel) { read(folder, channel) }
        }
    }

    /// Records `entry` as the channel's newest, replacing an earlier entry of the same job (in
    /// the store, timed by the store's clock rather than `entry.at`).
    ///
    /// `check` first gets the channel's other recent entries, newest first, read under the lock
    /// every write of the channel's history holds (the store's, or the file's `flock`); if it
    /// throws, nothing is recorded and its error is thrown. Two jobs of a channel checked at once
    /// (two workers, two hosts) take turns, so the second is compared with the first.
    public func record(_ entry: Entry, channel: String, check: @escaping @Sendable ([Entry]) throws -> Void = { _ in }) async throws {
        switch keeper {
        case .store(let store, _):
            let script = String(decoding: try JSONEncoder().encode(entry.script), as: UTF8.self)
            try await store.recordChannelHistory(channel: channel, job: entry.job, topic: entry.topic, script: script, keep: limit) {
                try check(Self.entries($0))
            }
        case .files(let folder):
            try locked(folder, channel) {
                var entries = read(folder, channel).filter { $0.job != entry.job }
                try check(entries)
                entries.insert(entry, at: 0)
                try write(entries, folder, channel)
            }
        }
    }

    /// Sets the thumbnail hash of `job`'s entry; nothing if the job has none (its script was
    /// written before the history kept it). `check` gets the channel's other entries as in
    /// ``record(_:channel:check:)``, under the same lock; if it throws, nothing is recorded.
    public func recordThumbnail(
        _ hash: String, job: Int64, channel: String, check: @escaping @Sendable ([Entry]) throws -> Void = { _ in }
    ) async throws {
        switch keeper {
        case .store(let store, _):
            try await store.recordChannelHistoryThumbnail(hash, channel: channel, job: job) { try check(Self.entries($0)) }
        case .files(let folder):
            try locked(folder, channel) {
                var entries = read(folder, channel)
                try check(entries.filter { $0.job != job })
                guard let i = entries.firstIndex(where: { $0.job == job }) else { return }
                entries[i].thumbnailHash = hash
                try write(entries, folder, channel)
            }
        }
    }

    /// The store's rows as entries; a row whose script cannot be read back is left out.
    static func entries(_ rows: [ChannelHistoryEntry]) -> [Entry] {
        let decoder = JSONDecoder()
        return rows.compactMap { row in
            guard let script = try? decoder.decode(Script.self, from: Data(row.script.utf8)) else { return nil }
            return Entry(job: row.jobID, at: row.at, topic: row.topic, script: script, thumbnailHash: row.thumbnailHash)
        }
    }

    /// Takes the channel's file under `folder` (an earlier version's history) into `store`, each
    /// entry with its own time, and renames it `.imported`; nothing if there is none. Two workers
    /// importing at once add the same entries once; an entry a job wrote meanwhile is kept.
    private func importFile(_ folder: URL, _ channel: String, into store: any ChannelHistoryLedger) async throws {
        let path = file(folder, channel).path
        guard FileManager.default.fileExists(atPath: path) else { return }
        let entries = try locked(folder, channel) { read(folder, channel) }
        let encoder = JSONEncoder()
        try await store.importChannelHistory(try entries.prefix(limit).map { entry in
            ChannelHistoryEntry(channel: channel, jobID: entry.job, at: entry.at, topic: entry.topic,
                                script: String(decoding: try encoder.encode(entry.script), as: UTF8.self), thumbnailHash: entry.thumbnailHash)
        }, keep: limit)
        // Under the file's lock: of two workers importing at once, the second finds it renamed.
        try locked(folder, channel) {
            guard FileManager.default.fileExists(atPath: path) else { return }
            try? FileManager.default.removeItem(atPath: path + ".imported")
            // Not renamed (a folder this user may not write): taken in again next time, adding nothing.
            try? FileManager.default.moveItem(atPath: path, toPath: path + ".imported")
        }
    }

    private func write(_ entries: [Entry], _ folder: URL, _ channel: String) throws {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try Files.writeNow(try encoder.encode(Array(entries.prefix(limit))), to: file(folder, channel).path)
    }

    private func read(_ folder: URL, _ channel: String) -> [Entry] {
        let target = file(folder, channel)
        guard let data = FileManager.default.contents(atPath: target.path) else { return [] }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        if let entries = try? decoder.decode([Entry].self, from: data) { return entries }
        try? FileManager.default.removeItem(atPath: target.path + ".broken")
        try? FileManager.default.moveItem(atPath: target.path, toPath: target.path + ".broken")
        return []
    }

    private func locked<T>(_ folder: URL, _ channel: String, _ body: () throws -> T) throws -> T {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let lockPath = file(folder, channel).path + ".lock"
        let fd = open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        defer { close(fd) }
        guard flock(fd, LOCK_EX) == 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        defer { flock(fd, LOCK_UN) }
        return try body()
    }
}
