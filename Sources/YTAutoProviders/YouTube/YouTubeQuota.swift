import Foundation
import YTAutoCore

/// The local check of YouTube's daily quota for one channel's uploads, on the shared ledger.
///
/// An upload's whole cost (the insert and the thumbnail) is reserved in one transaction right
/// before its session opens, so two workers cannot both pass the limit. A reservation whose
/// session never opened (the token refresh failed, YouTube refused the insert) is given back
/// with ``release(day:)``: only uploads that started count against the day.
public struct YouTubeQuota: Sendable {
    let ledger: any QuotaLedger
    let channel: String
    /// Units one upload costs: `videos.insert` and `thumbnails.set`.
    public let cost: Int
    let dailyQuota: Int
    let clock: @Sendable () -> Date

    public init(ledger: any QuotaLedger, channel: String, cost: Int, dailyQuota: Int, clock: @escaping @Sendable () -> Date = Date.init) {
        self.ledger = ledger
        self.channel = channel
        self.cost = cost
        self.dailyQuota = dailyQuota
        self.clock = clock
    }

    /// Reserves one upload's cost on today's Pacific day and returns that day.
    /// - Throws: ``YouTubeQuotaExceededError`` (parked until the reset) past the daily quota.
    public func reserve() async throws -> String {
        let day = QuotaDay.youtube(clock())
        guard try await ledger.reserve(provider: "youtube", channel: channel, unit: "units", amount: cost, limit: dailyQuota, day: day) else {
            let used = try await ledger.used(provider: "youtube", unit: "units", day: day)
            throw YouTubeQuotaExceededError(
                message: "an upload costs \(cost) units and \(used) of the daily \(dailyQuota) are used (\(day), Pacific); parked until the reset",
                retryAt: YouTubeQuotaExceededError.nextQuotaReset(after: clock()))
        }
        return day
    }

    /// Gives back a reservation made on `day`.
    public func release(day: String) async throws {
        try await ledger.release(provider: "youtube", channel: channel, unit: "units", amount: cost, day: day)
    }
}
