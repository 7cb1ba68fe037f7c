import Foundation
import YTAutoCore

/// The local check of YouTube's daily quota for one channel's uploads, on the shared ledger.
///
/// Google's quota has two buckets (developers.google.com/youtube/data/determine_quota_cost):
/// `videos.insert` calls have their own, 100 a day by default at 1 a call, and every other
/// method shares 10,000 units a day (`thumbnails.set` 50, `captions.insert` 400, `captions.list`
/// 50, `videos.list` 1). So an upload reserves one `uploads` (limit `daily_uploads`) and its
/// units (the thumbnail's and the captions', plus `upload_cost`, 0 unless the project is still
/// charged the older 1,600 units an insert; limit `daily_quota`), each in one transaction of the
/// ledger right before the session opens, so two workers cannot both pass a limit; when the
/// units do not fit, the upload just reserved is given back. A reservation whose session never
/// opened (the token refresh failed, YouTube refused the insert) is given back with
/// ``release(day:)``: only uploads that started count against the day.
public struct YouTubeQuota: Sendable {
    let ledger: any QuotaLedger
    let channel: String
    /// Units one upload costs besides its insert: `thumbnails.set`, `captions.insert`, and the
    /// insert's own units where the project is still charged them.
    public let cost: Int
    let dailyQuota: Int
    /// `videos.insert` calls a day, the insert's own bucket.
    let dailyUploads: Int
    let clock: @Sendable () -> Date

    public init(
        ledger: any QuotaLedger, channel: String, cost: Int, dailyQuota: Int, dailyUploads: Int = 100,
        clock: @escaping @Sendable () -> Date = Date.init
    ) {
        self.ledger = ledger
        self.channel = channel
        self.cost = cost
        self.dailyQuota = dailyQuota
        self.dailyUploads = dailyUploads
        self.clock = clock
    }

    /// Reserves one upload and its units on today's Pacific day and returns that day.
    /// - Throws: ``YouTubeQuotaExceededError`` (parked until the reset) past either daily limit.
    public func reserve() async throws -> String {
        let day = QuotaDay.youtube(clock())
        let reset = YouTubeQuotaExceededError.nextQuotaReset(after: clock())
        guard try await ledger.reserve(provider: "youtube", channel: channel, unit: "uploads", amount: 1, limit: dailyUploads, day: day) else {
            let used = try await ledger.used(provider: "youtube", unit: "uploads", day: day)
            throw YouTubeQuotaExceededError(
                message: "\(used) of the day's \(dailyUploads) uploads (videos.insert) are used (\(day), Pacific); parked until the reset",
                retryAt: reset)
        }
        guard cost > 0 else { return day }
        let fits: Bool
        do {
            fits = try await ledger.reserve(provider: "youtube", channel: channel, unit: "units", amount: cost, limit: dailyQuota, day: day)
        } catch {
            try? await releaseUpload(day)
            throw error
        }
        guard fits else {
            try await releaseUpload(day)
            let used = try await ledger.used(provider: "youtube", unit: "units", day: day)
            throw YouTubeQuotaExceededError(
                message: "an upload's thumbnail and captions cost \(cost) units and \(used) of the daily \(dailyQuota) are used (\(day), Pacific); parked until the reset",
                retryAt: reset)
        }
        return day
    }

    /// Gives back a reservation made on `day`.
    public func release(day: String) async throws {
        if cost > 0 { try await ledger.release(provider: "youtube", channel: channel, unit: "units", amount: cost, day: day) }
        try await releaseUpload(day)
    }

    /// Gives back the one `uploads` an upload took on `day`.
    private func releaseUpload(_ day: String) async throws {
        try await ledger.release(provider: "youtube", channel: channel, unit: "uploads", amount: 1, day: day)
    }
}
