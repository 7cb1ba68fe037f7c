import Foundation

/// UTC ISO-8601 timestamps with milliseconds, as stored in every `*_at` column:
/// `2026-11-25T11:32:03.123Z`. The fixed width makes text order equal time order,
/// so SQL compares them directly.
public enum Timestamp {
    /// The earliest and latest instants the text form holds (years 0001 to 9999). Past them the
    /// year would take five digits (`11533-…`), which sorts before `2026-…` and breaks every
    /// comparison the store makes in SQL.
    public static let earliest = Date(timeIntervalSince1970: -62_135_596_800)
    public static let latest = Date(timeIntervalSince1970: 253_402_300_799.999)

    /// `date`, if the store can hold it; otherwise an error naming `what` and the range.
    public static func checked(_ date: Date, _ what: @autoclosure () -> String) throws -> Date {
        guard date.timeIntervalSince1970.isFinite, date >= earliest, date <= latest else {
            throw TimestampOutOfRange(what: what(), date: date)
        }
        return date
    }

    /// The stored text of `date`. Every caller that takes a time from outside checks it first
    /// (``checked(_:_:)``); as a last guard, a time outside years 0001–9999 is written as the
    /// nearest one inside, so the text order stays the time order.
    public static func string(_ date: Date) -> String {
        let bounded = date.timeIntervalSince1970.isNaN ? earliest : min(max(date, earliest), latest)
        // To the nearest tenth of a millisecond first, then down to the millisecond: a Date made
        // from a whole number of milliseconds is a Double a few ulps off (0.03 ms in year 9999),
        // and flooring it directly would drop a millisecond.
        let tenths = Int64((bounded.timeIntervalSince1970 * 10_000).rounded())
        let ms = tenths >= 0 ? tenths / 10 : (tenths - 9) / 10
        var seconds = time_t(ms >= 0 ? ms / 1000 : (ms - 999) / 1000)
        let millis = Int(ms - Int64(seconds) * 1000)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        // Digits written by hand: `String(format:)` costs microseconds a call on Linux, and the
        // store formats several times for every write of the job life cycle.
        return String(unsafeUninitializedCapacity: 24) { buffer in
            func put(_ value: Int, _ width: Int, at offset: Int) {
                var v = value
                for i in stride(from: offset + width - 1, through: offset, by: -1) {
                    buffer[i] = UInt8(truncatingIfNeeded: 48 + v % 10)
                    v /= 10
                }
            }
            put(Int(parts.tm_year) + 1900, 4, at: 0)
            buffer[4] = UInt8(ascii: "-")
            put(Int(parts.tm_mon) + 1, 2, at: 5)
            buffer[7] = UInt8(ascii: "-")
            put(Int(parts.tm_mday), 2, at: 8)
            buffer[10] = UInt8(ascii: "T")
            put(Int(parts.tm_hour), 2, at: 11)
            buffer[13] = UInt8(ascii: ":")
            put(Int(parts.tm_min), 2, at: 14)
            buffer[16] = UInt8(ascii: ":")
            put(Int(parts.tm_sec), 2, at: 17)
            buffer[19] = UInt8(ascii: ".")
            put(millis, 3, at: 20)
            buffer[23] = UInt8(ascii: "Z")
            return 24
        }
    }

    /// `date` to the millisecond, as ``date(_:)`` builds a stored instant (whole seconds plus
    /// milliseconds over 1000): an engine that keeps finer times (PostgreSQL) reads and writes
    /// through this, so the same instant is the same `Date`, to the bit, on both engines.
    public static func canonical(_ date: Date) -> Date {
        let ms = (date.timeIntervalSince1970 * 1000).rounded()
        let seconds = (ms / 1000).rounded(.down)
        return Date(timeIntervalSince1970: seconds + (ms - seconds * 1000) / 1000)
    }

    /// Parses the stored form, and also accepts `YYYY-MM-DDTHH:MM:SSZ` and `YYYY-MM-DD HH:MM:SS` (UTC).
    public static func date(_ text: String) -> Date? {
        let s = Array(text.utf8)
        func num(_ from: Int, _ len: Int) -> Int? {
            guard from + len <= s.count else { return nil }
            var v = 0
            for i in from..<(from + len) {
                let c = s[i]
                guard c >= 48, c <= 57 else { return nil }
                v = v * 10 + Int(c - 48)
            }
            return v
        }
        guard s.count >= 19, s[4] == UInt8(ascii: "-"), s[7] == UInt8(ascii: "-"),
              s[10] == UInt8(ascii: "T") || s[10] == UInt8(ascii: " "),
              let y = num(0, 4), let mo = num(5, 2), let d = num(8, 2),
              let h = num(11, 2), let mi = num(14, 2), let sec = num(17, 2),
              (1...12).contains(mo), (1...31).contains(d), h < 24, mi < 60, sec < 61
        else { return nil }
        var millis = 0
        var i = 19
        if i < s.count, s[i] == UInt8(ascii: ".") {
            var digits = 0
            i += 1
            while i < s.count, s[i] >= 48, s[i] <= 57 {
                if digits < 3 { millis = millis * 10 + Int(s[i] - 48); digits += 1 }
                i += 1
            }
            while digits < 3 { millis *= 10; digits += 1 }
        }
        if i < s.count, s[i] == UInt8(ascii: "Z") { i += 1 }
        guard i == s.count else { return nil }
        var parts = tm()
        parts.tm_year = Int32(y - 1900)
        parts.tm_mon = Int32(mo - 1)
        parts.tm_mday = Int32(d)
        parts.tm_hour = Int32(h)
        parts.tm_min = Int32(mi)
        parts.tm_sec = Int32(sec)
        let seconds = timegm(&parts)
        return Date(timeIntervalSince1970: TimeInterval(seconds) + TimeInterval(millis) / 1000)
    }
}

/// A time the store cannot hold: before year 1 or after year 9999.
public struct TimestampOutOfRange: Error, Sendable, Hashable, CustomStringConvertible {
    public var what: String
    public var date: Date
    public var description: String {
        let seconds = date.timeIntervalSince1970
        let years = seconds.isFinite ? String(format: "%.0f", seconds / 31_556_952 + 1970) : "\(seconds)"
        return "\(what) falls in year \(years), outside the 0001-9999 the store can hold"
    }
}
