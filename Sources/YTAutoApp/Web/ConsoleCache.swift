import Foundation
import YTAutoCore
import YTAutoMedia

/// What the overview would otherwise recompute on every load, kept for a short while: the
/// finished jobs of past hours (a week of them is a scan of every job that finished in that week:
/// 0.3 s at 230,000 jobs) and the disk used by the jobs' folders (a walk of every file).
///
/// Past hours are kept for 10 minutes and the current hour is always read fresh, so a chart is
/// at most 10 minutes late about an old hour (a job retried or pruned after it finished); the
/// disk use and the week's failures by code are kept for a minute.
actor ConsoleCache {
    private var hours: (computedAt: Date, currentHour: Date, since: Date, counts: [HourlyCount])?
    private var disk: (computedAt: Date, use: DiskUse)?
    private var failures: (computedAt: Date, counts: [CodeCount])?
    static let hoursFor: TimeInterval = 600
    static let diskFor: TimeInterval = 60

    static func hour(_ date: Date) -> Date { Date(timeIntervalSince1970: (date.timeIntervalSince1970 / 3600).rounded(.down) * 3600) }

    /// Jobs finished since `since`, by hour: past hours from the cache (read again when older than
    /// ``hoursFor``, in a new hour, or asked further back), the current hour from the store.
    func finishedByHour(_ store: any ConsoleStore, since: Date, now: Date) async throws -> [HourlyCount] {
        let currentHour = Self.hour(now)
        if let h = hours, h.currentHour == currentHour, h.since <= since, now.timeIntervalSince(h.computedAt) < Self.hoursFor {
            // Cached.
        } else {
            let past = try await store.finishedByHour(since: since).filter { $0.hour < currentHour }
            hours = (now, currentHour, since, past)
        }
        let fresh = try await store.finishedByHour(since: currentHour)
        return (hours?.counts ?? []).filter { $0.hour >= Self.hour(since) } + fresh
    }

    /// Failed jobs of the last 7 days by error code, read again when a minute old.
    func weekFailures(_ store: any ConsoleStore, now: Date) async throws -> [CodeCount] {
        if let f = failures, now.timeIntervalSince(f.computedAt) < Self.diskFor { return f.counts }
        let counts = try await store.failuresByCode(since: now.addingTimeInterval(-7 * 86_400))
        failures = (now, counts)
        return counts
    }

    func diskUsage(_ folders: JobFolders, now: Date) -> DiskUse {
        if let d = disk, now.timeIntervalSince(d.computedAt) < Self.diskFor { return d.use }
        let fresh = DiskUse.measure(folders)
        disk = (now, fresh)
        return fresh
    }
}
