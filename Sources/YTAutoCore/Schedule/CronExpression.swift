import Foundation

/// A 5-field cron expression (`minute hour day-of-month month day-of-week`), evaluated in a time zone.
///
/// Fields take `*`, numbers, ranges `a-b`, steps `*/n` and `a-b/n`, and lists `a,b-c`.
/// Months also take `jan`…`dec` and days of the week `sun`…`sat`; day 7 is Sunday, like 0.
/// As in Vixie cron, when both day-of-month and day-of-week are restricted, a day matching
/// either one fires; when one of them is `*`, both must match.
///
/// **Daylight saving time.** Times are wall-clock times in the zone:
/// - a wall-clock time that happens twice (the hour repeated when clocks go back) fires once,
///   at its first occurrence;
/// - a wall-clock time that does not exist (the hour skipped when clocks go forward) fires at
///   the instant of the change, once, however many skipped times match.
public struct CronExpression: Sendable, Hashable, CustomStringConvertible {
    public let text: String
    let minutes: Set<Int>
    let hours: Set<Int>
    let daysOfMonth: Set<Int>
    let months: Set<Int>
    let daysOfWeek: Set<Int>  // 0 = Sunday
    let domRestricted: Bool
    let dowRestricted: Bool

    public var description: String { text }

    /// A field that cannot be parsed, named with the reason.
    public struct ParseError: Error, Sendable, CustomStringConvertible, Hashable {
        public let expression: String
        public let reason: String
        public var description: String { "cron expression '\(expression)': \(reason)" }
    }

    private static let fieldNames = ["minute", "hour", "day-of-month", "month", "day-of-week"]
    private static let monthNames = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
    private static let dayNames = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]

    public init(_ text: String) throws {
        let fields = text.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        guard fields.count == 5 else {
            throw ParseError(expression: text, reason: "needs 5 fields (minute hour day-of-month month day-of-week), found \(fields.count)")
        }
        func parse(_ i: Int, _ lo: Int, _ hi: Int, names: [String] = [], nameBase: Int = 0) throws -> Set<Int> {
            do {
                return try Self.parseField(fields[i], lo, hi, names: names, nameBase: nameBase)
            } catch let reason as FieldError {
                throw ParseError(expression: text, reason: "\(Self.fieldNames[i]) field '\(fields[i])': \(reason.text)")
            }
        }
        self.text = text
        minutes = try parse(0, 0, 59)
        hours = try parse(1, 0, 23)
        daysOfMonth = try parse(2, 1, 31)
        months = try parse(3, 1, 12, names: Self.monthNames, nameBase: 1)
        daysOfWeek = Set(try parse(4, 0, 7, names: Self.dayNames).map { $0 == 7 ? 0 : $0 })
        domRestricted = !fields[2].hasPrefix("*")
        dowRestricted = !fields[4].hasPrefix("*")
        // A day-of-month that no month in the set has (e.g. 30 in February only) never fires.
        let longest = months.map { [1: 31, 2: 29, 3: 31, 4: 30, 5: 31, 6: 30, 7: 31, 8: 31, 9: 30, 10: 31, 11: 30, 12: 31][$0]! }.max() ?? 31
        if domRestricted && !dowRestricted && (daysOfMonth.min() ?? 1) > longest {
            throw ParseError(expression: text, reason: "day-of-month \(daysOfMonth.sorted()) never occurs in month(s) \(months.sorted())")
        }
    }

    private struct FieldError: Error { let text: String }

    private static func parseField(_ field: String, _ lo: Int, _ hi: Int, names: [String], nameBase: Int) throws -> Set<Int> {
        func value(_ s: Substring) throws -> Int {
            if let n = Int(s) {
                guard n >= lo && n <= hi else { throw FieldError(text: "\(n) is outside \(lo)-\(hi)") }
                return n
            }
            if let i = names.firstIndex(of: s.lowercased()) { return i + nameBase }
            throw FieldError(text: "'\(s)' is not a number\(names.isEmpty ? "" : " or a name (\(names.joined(separator: ",")))")")
        }
        var out = Set<Int>()
        for part in field.split(separator: ",", omittingEmptySubsequences: false) {
            guard !part.isEmpty else { throw FieldError(text: "empty list item") }
            let pieces = part.split(separator: "/", omittingEmptySubsequences: false)
            guard pieces.count <= 2 else { throw FieldError(text: "more than one '/' in '\(part)'") }
            var step = 1
            if pieces.count == 2 {
                guard let s = Int(pieces[1]), s >= 1 else { throw FieldError(text: "step '\(pieces[1])' must be a whole number of at least 1") }
                step = s
            }
            let range = pieces[0]
            var start: Int, end: Int
            if range == "*" {
                start = lo; end = hi
                if names == dayNames { end = 6 }
            } else if let dash = range.firstIndex(of: "-") {
                start = try value(range[range.startIndex..<dash])
                end = try value(range[range.index(after: dash)...])
                guard start <= end else { throw FieldError(text: "range \(range) runs backwards") }
            } else {
                start = try value(range)
                end = pieces.count == 2 ? hi : start  // `5/15` means 5-hi/15, as in Vixie cron
            }
            out.formUnion(stride(from: start, through: end, by: step))
        }
        return out
    }

    // MARK: - Evaluation

    /// A wall-clock minute: what a clock on the wall of the zone shows.
    struct Wall: Hashable, Comparable {
        var year, month, day, hour, minute: Int
        static func < (a: Wall, b: Wall) -> Bool {
            (a.year, a.month, a.day, a.hour, a.minute) < (b.year, b.month, b.day, b.hour, b.minute)
        }
    }

    private static let utc: Calendar = {
        var c = Calendar(identifier: .gregorian)
        c.timeZone = TimeZone(identifier: "UTC")!
        return c
    }()

    /// The wall-clock time as seconds since 1970 if the zone were UTC.
    static func wallSeconds(_ w: Wall) -> Int {
        // Days from civil (Howard Hinnant's algorithm).
        let y = w.month <= 2 ? w.year - 1 : w.year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (w.month + 9) % 12
        let doy = (153 * mp + 2) / 5 + w.day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        let days = era * 146_097 + doe - 719_468
        return days * 86_400 + w.hour * 3_600 + w.minute * 60
    }

    static func wall(fromSeconds s: Int) -> Wall {
        let days = Int((Double(s) / 86_400).rounded(.down))
        let secs = s - days * 86_400
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return Wall(year: yoe + era * 400 + (m <= 2 ? 1 : 0), month: m, day: d, hour: secs / 3_600, minute: (secs % 3_600) / 60)
    }

    static func wall(of date: Date, in zone: TimeZone) -> Wall {
        let t = Int(date.timeIntervalSince1970.rounded(.down))
        return wall(fromSeconds: t + zone.secondsFromGMT(for: date))
    }

    static func daysIn(year: Int, month: Int) -> Int {
        switch month {
        case 2: return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    func dayMatches(_ w: Wall) -> Bool {
        let dom = daysOfMonth.contains(w.day)
        // 1970-01-01 (wall seconds 0) was a Thursday.
        let dow = ((Self.wallSeconds(Wall(year: w.year, month: w.month, day: w.day, hour: 0, minute: 0)) / 86_400) % 7 + 7 + 4) % 7
        let downMatch = daysOfWeek.contains(dow)
        if domRestricted && dowRestricted { return dom || downMatch }
        return dom && downMatch
    }

    /// The first matching wall-clock minute at or after `start`, within `limitYears`.
    func nextWall(atOrAfter start: Wall, limitYears: Int = 8) -> Wall? {
        var w = start
        let lastYear = start.year + limitYears
        while w.year <= lastYear {
            if !months.contains(w.month) {
                w = Wall(year: w.month == 12 ? w.year + 1 : w.year, month: w.month == 12 ? 1 : w.month + 1, day: 1, hour: 0, minute: 0)
                continue
            }
            if !dayMatches(w) {
                w = Self.nextDay(w)
                continue
            }
            if !hours.contains(w.hour) {
                if w.hour == 23 { w = Self.nextDay(w) } else { w = Wall(year: w.year, month: w.month, day: w.day, hour: w.hour + 1, minute: 0) }
                continue
            }
            guard let m = minutes.filter({ $0 >= w.minute }).min() else {
                if w.hour == 23 { w = Self.nextDay(w) } else { w = Wall(year: w.year, month: w.month, day: w.day, hour: w.hour + 1, minute: 0) }
                continue
            }
            return Wall(year: w.year, month: w.month, day: w.day, hour: w.hour, minute: m)
        }
        return nil
    }

    static func nextDay(_ w: Wall) -> Wall {
        if w.day < daysIn(year: w.year, month: w.month) { return Wall(year: w.year, month: w.month, day: w.day + 1, hour: 0, minute: 0) }
        if w.month < 12 { return Wall(year: w.year, month: w.month + 1, day: 1, hour: 0, minute: 0) }
        return Wall(year: w.year + 1, month: 1, day: 1, hour: 0, minute: 0)
    }

    /// The instants at which wall-clock time `w` happens in `zone`, earliest first; empty in a gap.
    static func instants(of w: Wall, in zone: TimeZone) -> [Int] {
        let ws = wallSeconds(w)
        var offsets = Set<Int>()
        for probe in [ws - 86_400 * 2, ws - 86_400, ws, ws + 86_400, ws + 86_400 * 2] {
            offsets.insert(zone.secondsFromGMT(for: Date(timeIntervalSince1970: TimeInterval(probe))))
        }
        return offsets.map { ws - $0 }
            .filter { t in t + zone.secondsFromGMT(for: Date(timeIntervalSince1970: TimeInterval(t))) == ws }
            .sorted()
    }

    /// The next instant strictly after `date` at which this expression fires in `zone`, or nil if it
    /// never fires within eight years (e.g. `0 0 30 2 *`).
    public func next(after date: Date, in zone: TimeZone) -> Date? {
        let after = Int(date.timeIntervalSince1970.rounded(.down))
        // Start one wall-clock minute after the wall-clock minute of `date`, so that wall times
        // skipped by a clock change just after `date` are still seen.
        let minute = Int((Double(after) / 60).rounded(.down)) * 60
        let here = Self.wall(of: Date(timeIntervalSince1970: TimeInterval(minute)), in: zone)
        var w = Self.wall(fromSeconds: Self.wallSeconds(here) + 60)
        var guardCount = 0
        while let candidate = nextWall(atOrAfter: w) {
            guardCount += 1
            if guardCount > 100_000 { return nil }
            let times = Self.instants(of: candidate, in: zone)
            if let first = times.first {
                if first > after { return Date(timeIntervalSince1970: TimeInterval(first)) }
                // Its first occurrence is past: it already fired (or was before our start).
            } else {
                // A skipped wall time: it fires at the clock change, which follows the gap.
                let ws = Self.wallSeconds(candidate)
                let before = zone.secondsFromGMT(for: Date(timeIntervalSince1970: TimeInterval(ws - 86_400)))
                if let change = zone.nextDaylightSavingTimeTransition(after: Date(timeIntervalSince1970: TimeInterval(ws - before - 86_400))) {
                    let t = Int(change.timeIntervalSince1970)
                    if t > after { return change }
                }
            }
            w = Self.wall(fromSeconds: Self.wallSeconds(candidate) + 60)
        }
        return nil
    }

    /// Every firing instant in `(from, through]`, oldest first, at most `limit` of them.
    public func fireTimes(after from: Date, through: Date, in zone: TimeZone, limit: Int = 100_000) -> [Date] {
        var out: [Date] = []
        var t = from
        while out.count < limit, let n = next(after: t, in: zone), n <= through {
            out.append(n)
            t = n
        }
        return out
    }
}
