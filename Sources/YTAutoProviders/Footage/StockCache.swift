import Foundation
import YTAutoSupport

/// The stock providers' files on this host, `<work_dir>/stock/`: searches (`search/`, each
/// asked again after ``StockFootageSource/searchLifetime``) and downloads (`<provider>/`, kept
/// so that a retried stage, or another channel choosing the same clip, downloads nothing).
///
/// A download's last use is its access time: set when it is downloaded, and again each time a
/// job takes it from the cache (``markUsed(_:)``; set explicitly, so a `noatime` mount does
/// not hide it). Its modification time is left alone: it is part of the key under which the
/// images stage (and the music bed) keep what they made from it, and a reuse must not make those
/// stale. (Anything else that reads the files, a backup say, may move the access time too, under
/// Linux's default `relatime`: then a download counts as used and is kept longer, never shorter.)
///
/// Nothing else removes these files: a channel publishing daily from stock footage adds about
/// 100 MB a day (ten clips a video). ``prune(unusedBefore:keeping:now:)`` removes what no job
/// needs any longer; `ytauto-admin prune` runs it.
public struct StockCache: Sendable {
    public let folder: URL

    public init(folder: URL) { self.folder = folder }

    /// The cache of a work folder: `<work_dir>/stock/`.
    public init(workDirectory: URL) { self.folder = workDirectory.appending(path: "stock") }

    /// A download or a search is never removed before it has gone this long unused, whatever
    /// the cutoff: a job at its images stage right now may have just taken it.
    public static let minimumIdle: TimeInterval = 24 * 3600

    /// Records that a job takes `path` from the cache now (its access time; not its modification
    /// time); false if the file is not there (never was, or a prune has just taken it: download it
    /// again). Once this returned true, a prune running at the same moment puts the file back
    /// (``prune(unusedBefore:keeping:now:afterChecking:)``).
    @discardableResult
    public static func markUsed(_ path: String) -> Bool {
        // Linux's UTIME_NOW and UTIME_OMIT (macros Swift does not import): access time now, modification time as it is.
        var times = [timespec(tv_sec: 0, tv_nsec: (1 << 30) - 1), timespec(tv_sec: 0, tv_nsec: (1 << 30) - 2)]
        // A file this user may not touch is there all the same; anything else is not there.
        return utimensat(AT_FDCWD, path, &times, 0) == 0 || access(path, F_OK) == 0
    }

    /// When `path` was made (its modification time), when it was last used (the later of that
    /// and its access time), and the bytes it occupies on disk; nil if it cannot be read.
    static func times(_ path: String) -> (made: Date, used: Date, bytes: Int64)? {
        var info = stat()
        guard lstat(path, &info) == 0 else { return nil }
        let made = Double(info.st_mtim.tv_sec) + Double(info.st_mtim.tv_nsec) / 1e9
        let read = Double(info.st_atim.tv_sec) + Double(info.st_atim.tv_nsec) / 1e9
        return (Date(timeIntervalSince1970: made), Date(timeIntervalSince1970: max(made, read)), Int64(info.st_blocks) * 512)
    }

    /// What ``prune(unusedBefore:keeping:now:)`` removed, and what it could not.
    public struct PruneReport: Sendable {
        /// Downloads last used before this went (unless kept).
        public var unusedBefore: Date
        public var downloads = 0
        public var searches = 0
        public var bytes: Int64 = 0
        /// Files in use by a job's work folder, old as they were.
        public var kept = 0
        public var problems: [String] = []
    }

    /// Removes the downloads last used before `cutoff` (or ``minimumIdle`` ago, if that is
    /// earlier) that no path in `keeping` names, the searches older than their lifetime, and
    /// leftovers of downloads cut short (their temporary files) as old as that.
    ///
    /// - Parameter keeping: the files the jobs' work folders still name (their `media.json`: a
    ///   failed job's retry, or a job between its images and clips stages, reads them again).
    ///   Compared by provider folder and file name (`pexels/clip-1-1080x1920.mp4`), so a work
    ///   folder named by another path (moved, or mounted elsewhere on another host) still holds its files.
    ///
    /// A download is not removed at once: it is renamed out of the cache's sight, then its access
    /// time is read again, and if a job marked it used between the first look and the rename
    /// (``markUsed(_:)``), it is put back under its name. A job that marks it after the rename
    /// finds it gone and downloads it again. So a job that took a file keeps it, however the two
    /// interleave. (`afterChecking` runs between the first look and the rename, for the test of that.)
    public func prune(unusedBefore cutoff: Date, keeping: Set<String>, now: Date = Date(),
                      afterChecking: (String) -> Void = { _ in }) -> PruneReport {
        let before = min(cutoff, now.addingTimeInterval(-Self.minimumIdle))
        var report = PruneReport(unusedBefore: before)
        let searchesBefore = now.addingTimeInterval(-max(StockFootageSource.searchLifetime, Self.minimumIdle))
        let kept = Set(keeping.map { URL(fileURLWithPath: $0).pathComponents.suffix(2).joined(separator: "/") })
        let fm = FileManager.default
        guard let providers = try? fm.contentsOfDirectory(atPath: folder.path) else { return report }
        for name in providers.sorted() {
            let sub = folder.appending(path: name)
            var isDirectory: ObjCBool = false
            guard fm.fileExists(atPath: sub.path, isDirectory: &isDirectory), isDirectory.boolValue else { continue }
            let files: [String]
            do {
                files = try fm.contentsOfDirectory(atPath: sub.path)
            } catch {
                report.problems.append("cannot list \(sub.path): \(error.localizedDescription)")
                continue
            }
            let isSearch = name == "search"
            for file in files.sorted() {
                let path = sub.appending(path: file).standardizedFileURL.path
                // A search's age counts from when it was made; a download's from its last use.
                guard let t = Self.times(path), isSearch ? t.made < searchesBefore : t.used < before else { continue }
                if !isSearch && kept.contains(name + "/" + file) {
                    report.kept += 1
                    continue
                }
                afterChecking(path)
                do {
                    if isSearch {
                        try fm.removeItem(atPath: path)
                    } else if try !Self.removeUnused(path, usedBefore: before) {
                        report.kept += 1
                        continue
                    }
                    report.bytes += t.bytes
                    if isSearch { report.searches += 1 } else { report.downloads += 1 }
                } catch {
                    report.problems.append("cannot remove \(path): \(error.localizedDescription)")
                }
            }
        }
        return report
    }

    /// Removes the download at `path` unless a job marked it used at `usedBefore` or later since
    /// it was looked at: renamed first (a job marking it now finds nothing), then looked at again;
    /// false if it was put back. A new download of the same name made meanwhile stays.
    static func removeUnused(_ path: String, usedBefore before: Date) throws -> Bool {
        let url = URL(fileURLWithPath: path)
        let aside = url.deletingLastPathComponent().appending(path: ".pruning-" + url.lastPathComponent).path
        guard rename(path, aside) == 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        defer { unlink(aside) }
        guard let t = times(aside), t.used >= before else { return true }
        // Back under its name: a hard link, never over a download made since; where the file
        // system has no hard links, renamed back (then the unlink finds nothing).
        if link(aside, path) != 0, errno != EEXIST, rename(aside, path) != 0 {
            throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO)
        }
        return false
    }
}
