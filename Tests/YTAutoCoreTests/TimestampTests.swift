import Foundation
import Testing
import YTAutoCore

@Suite struct TimestampTests {
    /// The hand-written digits agree with Foundation's formatter on random instants of 1970-9999,
    /// and the text parses back to the same millisecond.
    @Test func formatsAsFoundationDoesAndRoundTrips() throws {
        let reference = DateFormatter()
        reference.calendar = Calendar(identifier: .gregorian)
        reference.locale = Locale(identifier: "en_US_POSIX")
        reference.timeZone = TimeZone(identifier: "UTC")
        reference.dateFormat = "yyyy-MM-dd'T'HH:mm:ss.SSS'Z'"
        var rng = SplitMix64(seed: 20261130)
        for _ in 0..<5_000 {
            let ms = Int64.random(in: 0...253_402_300_799_999, using: &rng)
            let date = Date(timeIntervalSince1970: Double(ms) / 1000)
            let text = Timestamp.string(date)
            #expect(text == reference.string(from: date), "\(ms)")
            let back = try #require(Timestamp.date(text))
            #expect(Int64((back.timeIntervalSince1970 * 1000).rounded()) == ms, "\(text)")
        }
        #expect(Timestamp.string(Timestamp.latest) == "9999-12-31T23:59:59.999Z")
        #expect(Timestamp.string(Date(timeIntervalSince1970: 0)) == "1970-01-01T00:00:00.000Z")
    }
}

/// The days `ytauto-admin quota --days N` shows: N of them, today included, where today is the
/// Pacific day (YouTube's units) or the UTC day (the others'), whichever began first.
@Suite struct QuotaDayTests {
    func at(_ text: String) throws -> Date { try #require(Timestamp.date(text)) }

    @Test func theLastNDaysAreNDaysInEitherZone() throws {
        // Afternoon in both zones: one day is that day (it was two: --days 1 showed yesterday too).
        #expect(QuotaDay.first(ofLast: 1, now: try at("2026-12-03T21:37:00.000Z")) == "2026-12-03")
        #expect(QuotaDay.first(ofLast: 7, now: try at("2026-12-03T21:37:00.000Z")) == "2026-11-27")
        // After midnight UTC it is still the 3rd in California: YouTube's today is the 3rd.
        #expect(QuotaDay.first(ofLast: 1, now: try at("2026-12-04T02:00:00.000Z")) == "2026-12-03")
        #expect(QuotaDay.first(ofLast: 2, now: try at("2026-12-04T02:00:00.000Z")) == "2026-12-02")
    }

    /// Each provider by its own day: at 02:00 UTC on the 4th, YouTube's today is the 3rd (Pacific)
    /// and OpenAI's the 4th, so one day holds YouTube's 3rd but not OpenAI's (`quota --days 1`
    /// listed it; /metrics read YouTube's today as the UTC 4th and showed none of its units).
    @Test func eachProviderCountsByItsOwnDay() throws {
        let night = try at("2026-12-04T02:00:00.000Z")
        #expect(QuotaDay.day(of: "youtube", night) == "2026-12-03" && QuotaDay.day(of: "openai", night) == "2026-12-04")
        #expect(QuotaDay.isWithin(last: 1, day: "2026-12-03", of: "youtube", now: night))
        #expect(!QuotaDay.isWithin(last: 1, day: "2026-12-03", of: "openai", now: night))
        #expect(QuotaDay.isWithin(last: 1, day: "2026-12-04", of: "openai", now: night))
        #expect(!QuotaDay.isWithin(last: 1, day: "2026-12-02", of: "youtube", now: night))
        #expect(QuotaDay.isWithin(last: 2, day: "2026-12-03", of: "openai", now: night))
        #expect(!QuotaDay.isWithin(last: 2, day: "2026-12-02", of: "openai", now: night))
    }
}
