import Foundation

/// What providers consumed, per day and channel (`quota_ledger`).
public protocol QuotaLedger: Sendable {
    /// Adds `amount` to the day's row.
    func record(provider: String, channel: String, unit: String, amount: Int, day: String) async throws
    /// Adds `amount` only if the day's total for `provider` and `unit`, over every channel, stays
    /// within `limit`; in one transaction, so two workers cannot both pass the limit. Returns whether it did.
    func reserve(provider: String, channel: String, unit: String, amount: Int, limit: Int, day: String) async throws -> Bool
    func used(provider: String, unit: String, day: String) async throws -> Int
    /// Gives back `amount` of what ``reserve(provider:channel:unit:amount:limit:day:)`` took for
    /// `channel` on `day`, never below zero: a reservation whose work never started (no upload
    /// session opened) must not count against the day's quota.
    func release(provider: String, channel: String, unit: String, amount: Int, day: String) async throws
}

/// Ledger days: YouTube's quota day is the date in America/Los_Angeles (it resets at midnight
/// Pacific); every other provider's is the UTC date.
public enum QuotaDay {
    public static func youtube(_ date: Date) -> String { string(date, zone: "America/Los_Angeles") }
    public static func utc(_ date: Date) -> String { string(date, zone: "UTC") }

    /// The first day of the last `days` days, today included: the earlier of the Pacific and the
    /// UTC date, as the ledger holds YouTube's units by Pacific day and the others' by UTC day
    /// (a bound for the query: ``isWithin(last:day:of:now:)`` then keeps each provider's own).
    /// One day is today (on the Pacific side of midnight UTC, the Pacific today is UTC yesterday).
    public static func first(ofLast days: Int, now: Date) -> String {
        let back = now.addingTimeInterval(-Double(max(0, days - 1)) * 86_400)
        return min(youtube(back), utc(back))
    }

    /// The ledger's day of `provider` at `date`: YouTube's by Pacific time (its quota resets at
    /// midnight there), every other provider's by UTC.
    public static func day(of provider: String, _ date: Date) -> String {
        provider == "youtube" ? youtube(date) : utc(date)
    }

    /// Whether `provider`'s ledger day `day` is one of the last `days` days at `now`, today
    /// included, each provider counted by its own day (``day(of:_:)``): at 02:00 UTC, one day
    /// is YouTube's Pacific yesterday-in-UTC and the others' UTC today.
    public static func isWithin(last days: Int, day: String, of provider: String, now: Date) -> Bool {
        day >= Self.day(of: provider, now.addingTimeInterval(-Double(max(0, days - 1)) * 86_400))
    }

    static func string(_ date: Date, zone: String) -> String {
        var cal = Calendar(identifier: .gregorian)
        cal.timeZone = TimeZone(identifier: zone)!
        let c = cal.dateComponents([.year, .month, .day], from: date)
        return String(format: "%04d-%02d-%02d", c.year!, c.month!, c.day!)
    }
}
