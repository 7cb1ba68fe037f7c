import Foundation
import Testing
@testable import YTAutoProviders
import YTAutoTestSupport

/// The stock cache's pruning (``StockCache``) on real files whose times are set as a day's or a
/// month's use would leave them.
@Suite struct StockCacheTests {
    let dir = TempDir("ytauto-stock-cache")

    /// Sets a file's access and modification times.
    static func setTimes(_ path: String, accessed: Date, modified: Date) throws {
        func spec(_ d: Date) -> timespec {
            let whole = d.timeIntervalSince1970.rounded(.down)
            return timespec(tv_sec: Int(whole), tv_nsec: Int((d.timeIntervalSince1970 - whole) * 1e9))
        }
        var times = [spec(accessed), spec(modified)]
        guard utimensat(AT_FDCWD, path, &times, 0) == 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
    }

    /// A file of `bytes` under the cache, last used `usedDaysAgo` and made `madeDaysAgo` (default: as long ago).
    func file(_ relative: String, bytes: Int = 4096, usedDaysAgo: Double, madeDaysAgo: Double? = nil) throws -> String {
        let url = dir.url.appending(path: "work/stock/\(relative)")
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(repeating: 1, count: bytes).write(to: url)
        let now = Date()
        try Self.setTimes(url.path, accessed: now.addingTimeInterval(-usedDaysAgo * 86400),
                          modified: now.addingTimeInterval(-(madeDaysAgo ?? usedDaysAgo) * 86400))
        return url.standardizedFileURL.path
    }

    func exists(_ path: String) -> Bool { FileManager.default.fileExists(atPath: path) }

    @Test func pruneRemovesWhatNoJobHasUsedForLongAndKeepsWhatAJobStillNames() throws {
        let unused = try file("pexels/clip-1-1080x1920.mp4", bytes: 1 << 20, usedDaysAgo: 40)
        let namedByAJob = try file("pexels/clip-2-1080x1920.mp4", usedDaysAgo: 40)
        let reusedLately = try file("pexels/clip-3-1080x1920.mp4", usedDaysAgo: 2, madeDaysAgo: 40)
        let recent = try file("pixabay/photo-4-1280x853.jpg", usedDaysAgo: 0.5)
        let cutShort = try file("pexels/.clip-5-1080x1920.tmp-77-123.mp4", usedDaysAgo: 3)
        let oldSearch = try file("search/pexels-0123456789abcdef01234567.json", usedDaysAgo: 0.1, madeDaysAgo: 1.5)
        let freshSearch = try file("search/pexels-fedcba9876543210fedcba98.json", usedDaysAgo: 0.1, madeDaysAgo: 0.5)

        let report = StockCache(workDirectory: dir.url.appending(path: "work"))
            .prune(unusedBefore: Date().addingTimeInterval(-30 * 86400),
                   // As a work folder mounted at another path names it: matched by provider and file name.
                   keeping: ["/mnt/elsewhere/work/stock/pexels/" + URL(fileURLWithPath: namedByAJob).lastPathComponent])
        #expect(!exists(unused) && exists(namedByAJob) && exists(reusedLately) && exists(recent), "\(report)")
        #expect(exists(cutShort), "3 days unused is within the 30-day cutoff")
        // A search goes once its 24 hours have passed since it was made, however lately it was read.
        #expect(!exists(oldSearch) && exists(freshSearch))
        #expect(report.downloads == 1 && report.searches == 1 && report.kept == 1 && report.problems.isEmpty, "\(report)")
        #expect(report.bytes >= 1 << 20, "the bytes freed are counted: \(report.bytes)")

        // A cutoff of now still spares what was used within the last day (a job at its images stage may hold it).
        let now = StockCache(workDirectory: dir.url.appending(path: "work")).prune(unusedBefore: Date(), keeping: [])
        #expect(!exists(namedByAJob) && !exists(reusedLately) && !exists(cutShort) && exists(recent) && exists(freshSearch), "\(now)")
        #expect(now.downloads == 3 && now.searches == 0, "\(now)")
    }

    /// A job takes a file from the cache just after prune looked at it (unused for 40 days) and
    /// before prune removed it: the file stays. One marked after it was taken is reported gone
    /// (so the job downloads it again).
    @Test func aFileAJobTakesWhilePruneLooksAtItStays() throws {
        let taken = try file("pexels/clip-6-1080x1920.mp4", usedDaysAgo: 40)
        let gone = try file("pexels/clip-7-1080x1920.mp4", usedDaysAgo: 40)
        let report = StockCache(workDirectory: dir.url.appending(path: "work")).prune(unusedBefore: Date(), keeping: []) { path in
            if path == taken { #expect(StockCache.markUsed(path)) }
        }
        #expect(exists(taken) && !exists(gone), "\(report)")
        #expect(report.downloads == 1 && report.kept == 1 && report.problems.isEmpty, "\(report)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: URL(fileURLWithPath: taken).deletingLastPathComponent().path)
            == [URL(fileURLWithPath: taken).lastPathComponent], "nothing set aside is left")
        #expect(!StockCache.markUsed(gone), "a file pruned is reported missing, to be downloaded again")
    }

    @Test func aMissingCacheIsNothingToPrune() {
        let report = StockCache(workDirectory: dir.url.appending(path: "no-such-work")).prune(unusedBefore: Date(), keeping: [])
        #expect(report.downloads == 0 && report.searches == 0 && report.problems.isEmpty)
    }
}
