import Foundation
import Testing
import YTAutoCore

/// A random cron expression together with the sets it means, built independently of the parser.
struct RandomCron {
    var text: String
    var minutes, hours, doms, months, dows: Set<Int>
    var domStar, dowStar: Bool

    static func make(_ rng: inout SplitMix64) -> RandomCron {
        func field(_ lo: Int, _ hi: Int, starChance: Int) -> (String, Set<Int>, Bool) {
            switch Int.random(in: 0..<10, using: &rng) {
            case 0..<starChance:
                return ("*", Set(lo...hi), true)
            case starChance..<(starChance + 2):
                let step = Int.random(in: 2...max(2, (hi - lo) / 2), using: &rng)
                return ("*/\(step)", Set(stride(from: lo, through: hi, by: step)), true)
            case (starChance + 2)..<(starChance + 4):
                let a = Int.random(in: lo...hi, using: &rng)
                let b = Int.random(in: a...hi, using: &rng)
                return ("\(a)-\(b)", Set(a...b), false)
            default:
                let n = Int.random(in: 1...3, using: &rng)
                let values = Set((0..<n).map { _ in Int.random(in: lo...hi, using: &rng) })
                return (values.sorted().map(String.init).joined(separator: ","), values, false)
            }
        }
        let mi = field(0, 59, starChance: 1)
        // Hours lean towards 0-3 so that clock changes matter.
        var h = field(0, 23, starChance: 2)
        if Int.random(in: 0..<2, using: &rng) == 0 {
            let a = Int.random(in: 0...3, using: &rng)
            h = ("\(a)", [a], false)
        }
        let dom = field(1, 31, starChance: 6)
        let mo = field(1, 12, starChance: 7)
        let dw = field(0, 6, starChance: 6)
        return RandomCron(
            text: [mi.0, h.0, dom.0, mo.0, dw.0].joined(separator: " "),
            minutes: mi.1, hours: h.1, doms: dom.1, months: mo.1, dows: dw.1, domStar: dom.2, dowStar: dw.2)
    }

    /// A day of the month that none of its months has, with the day of the week left open: valid
    /// syntax that would never fire, which the parser refuses (so an operator hears of it).
    var neverFires: Bool {
        let longest = months.map { [1: 31, 2: 29, 3: 31, 4: 30, 5: 31, 6: 30, 7: 31, 8: 31, 9: 30, 10: 31, 11: 30, 12: 31][$0]! }.max() ?? 31
        return !domStar && dowStar && (doms.min() ?? 1) > longest
    }

    func matches(_ c: DateComponents) -> Bool {
        guard minutes.contains(c.minute!), hours.contains(c.hour!), months.contains(c.month!) else { return false }
        let dom = doms.contains(c.day!)
        let dow = dows.contains(c.weekday! - 1)
        return (!domStar && !dowStar) ? (dom || dow) : (dom && dow)
    }
}

@Suite struct CronTests {
    static let zones = [
        "America/New_York", "Europe/London", "Australia/Sydney", "Australia/Lord_Howe",
        "America/Santiago", "Asia/Kolkata", "Pacific/Chatham", "UTC",
    ]

    func date(_ s: String) -> Date { Timestamp.date(s)! }

    @Test func parsesFieldsAndNames() throws {
        let c = try CronExpression("0 18 * * mon,WED,fri")
        let ny = TimeZone(identifier: "America/New_York")!
        // 2026-11-25 is a Wednesday; 18:00 EST is 23:00 UTC.
        #expect(c.next(after: date("2026-11-25T12:00:00.000Z"), in: ny) == date("2026-11-25T23:00:00.000Z"))
        #expect(c.next(after: date("2026-11-25T23:00:00.000Z"), in: ny) == date("2026-11-27T23:00:00.000Z"))
        let sunday7 = try CronExpression("30 9 * * 7")
        #expect(sunday7.next(after: date("2026-11-25T00:00:00.000Z"), in: TimeZone(identifier: "UTC")!) == date("2026-11-29T09:30:00.000Z"))
        // Day-of-month OR day-of-week when both are restricted (Vixie): the 1st, or any Monday.
        let either = try CronExpression("0 0 1 * 1")
        let utc = TimeZone(identifier: "UTC")!
        #expect(either.next(after: date("2026-11-25T00:00:00.000Z"), in: utc) == date("2026-11-30T00:00:00.000Z"))
        #expect(either.next(after: date("2026-11-30T00:00:00.000Z"), in: utc) == date("2026-12-01T00:00:00.000Z"))
        // Leap day only: next is 2028-02-29.
        #expect(try CronExpression("0 12 29 2 *").next(after: date("2026-03-01T00:00:00.000Z"), in: utc) == date("2028-02-29T12:00:00.000Z"))
    }

    @Test(arguments: [
        ("0 18 * *", "needs 5 fields"),
        ("61 * * * *", "minute field '61': 61 is outside 0-59"),
        ("* 24 * * *", "hour field '24'"),
        ("* * 0 * *", "day-of-month field '0'"),
        ("* * * 13 *", "month field '13'"),
        ("* * * * 8", "day-of-week field '8'"),
        ("*/0 * * * *", "step '0'"),
        ("5-1 * * * *", "runs backwards"),
        ("* * * foo *", "'foo' is not a number"),
        ("0 0 30 2 *", "never occurs"),
        ("1,,2 * * * *", "empty list item"),
    ])
    func refusesBadExpressions(text: String, reason: String) {
        #expect {
            try CronExpression(text)
        } throws: { error in
            "\(error)".contains(reason) && "\(error)".contains(text)
        }
    }

    @Test func springForwardFiresOnceAtTheChangeAndFallBackFiresOnce() throws {
        let ny = TimeZone(identifier: "America/New_York")!
        let c = try CronExpression("30 2 * * *")
        // 2026-03-08: clocks go from 02:00 EST to 03:00 EDT at 07:00 UTC; 02:30 does not exist.
        #expect(c.next(after: date("2026-03-08T05:00:00.000Z"), in: ny) == date("2026-03-08T07:00:00.000Z"))
        #expect(c.next(after: date("2026-03-08T07:00:00.000Z"), in: ny) == date("2026-03-09T06:30:00.000Z"))
        let early = try CronExpression("30 1 * * *")
        // 2026-11-01: 01:30 happens at 05:30 UTC (EDT) and 06:30 UTC (EST); it fires once, first.
        #expect(early.next(after: date("2026-11-01T04:00:00.000Z"), in: ny) == date("2026-11-01T05:30:00.000Z"))
        #expect(early.next(after: date("2026-11-01T05:30:00.000Z"), in: ny) == date("2026-11-02T06:30:00.000Z"))
        // Every 15 minutes across the gap: 01:45 EST, then the change (all of 02:xx), then 03:00 EDT.
        let q = try CronExpression("*/15 * * * *")
        let fires = q.fireTimes(after: date("2026-03-08T06:40:00.000Z"), through: date("2026-03-08T07:20:00.000Z"), in: ny)
        #expect(fires == [date("2026-03-08T06:45:00.000Z"), date("2026-03-08T07:00:00.000Z"), date("2026-03-08T07:15:00.000Z")])
    }

    /// Property: over random expressions and windows around every clock change of several zones,
    /// `next` gives exactly the instants a minute-by-minute walk with Foundation's calendar gives.
    /// (Async, to give its thread up at each window: seconds of computing without a pause held one
    /// of the test run's two cooperative threads; docs/testing.md, "Two cooperative threads".)
    @Test func nextMatchesAMinuteByMinuteWalkAcrossClockChanges() async throws {
        let seed = UInt64(Date().timeIntervalSince1970)
        print("cron property seed \(seed)")
        var rng = SplitMix64(seed: seed)
        var checkedFires = 0, checkedExpressions = 0, refused = 0
        for zoneID in Self.zones {
            let zone = TimeZone(identifier: zoneID)!
            var cal = Calendar(identifier: .gregorian)
            cal.timeZone = zone
            // Windows: each clock change of 2026-2027, and two random days.
            var centres: [Date] = []
            var t = date("2026-01-01T00:00:00.000Z")
            while let change = zone.nextDaylightSavingTimeTransition(after: t), change < date("2028-01-01T00:00:00.000Z") {
                centres.append(change)
                t = change
            }
            for _ in 0..<2 { centres.append(Date(timeIntervalSince1970: Double(Int.random(in: 1_767_225_600...1_830_000_000, using: &rng) / 60 * 60))) }
            for centre in centres {
                await Task.yield()
                let start = Date(timeIntervalSince1970: (centre.timeIntervalSince1970 / 60).rounded(.down) * 60 - 86_400 * 2)
                let windowStart = start.addingTimeInterval(86_400)
                let end = windowStart.addingTimeInterval(86_400 * 2)
                // Wall clock of every minute, from a day before the window (to know what already happened).
                var walls: [(Date, DateComponents)] = []
                var u = start
                while u <= end {
                    walls.append((u, cal.dateComponents([.year, .month, .day, .hour, .minute, .weekday], from: u)))
                    u.addTimeInterval(60)
                }
                for _ in 0..<12 {
                    let rc = RandomCron.make(&rng)
                    let expr: CronExpression
                    do {
                        expr = try CronExpression(rc.text)
                    } catch {
                        // Only an expression that could never fire may be refused; any other is a parser bug.
                        refused += 1
                        #expect(rc.neverFires, "a valid expression was refused: \(rc.text): \(error) (seed \(seed))")
                        continue
                    }
                    #expect(!rc.neverFires, "\(rc.text) never fires but was accepted (seed \(seed))")
                    checkedExpressions += 1
                    var expected: [Date] = []
                    var seen = Set<DateComponents>()
                    for i in walls.indices {
                        let (instant, c) = walls[i]
                        var fires = false
                        if i > 0 {
                            // A jump forward: every skipped wall time fires at this instant.
                            var wall = Self.addMinute(walls[i - 1].1)
                            while Self.wallSeconds(wall) < Self.wallSeconds(c) {
                                if rc.matches(wall) { fires = true }
                                wall = Self.addMinute(wall)
                            }
                        }
                        let key = DateComponents(year: c.year, month: c.month, day: c.day, hour: c.hour, minute: c.minute)
                        if rc.matches(c) && !seen.contains(key) { fires = true }
                        seen.insert(key)
                        if fires && instant > windowStart && instant <= end { expected.append(instant) }
                    }
                    let got = expr.fireTimes(after: windowStart, through: end, in: zone)
                    #expect(got == expected, "\(rc.text) in \(zoneID) around \(Timestamp.string(centre)) seed \(seed)")
                    checkedFires += expected.count
                }
            }
        }
        #expect(checkedFires > 1000)
        // Almost every expression drawn is checked: refusals (never-firing ones) are rare.
        #expect(checkedExpressions > 10 * max(1, refused), "\(checkedExpressions) checked, \(refused) refused (seed \(seed))")
    }

    /// Wall-clock components read as if they were UTC.
    static func wallSeconds(_ c: DateComponents) -> Double {
        var utc = Calendar(identifier: .gregorian)
        utc.timeZone = TimeZone(identifier: "UTC")!
        return utc.date(from: DateComponents(year: c.year, month: c.month, day: c.day, hour: c.hour, minute: c.minute))!.timeIntervalSince1970
    }

    /// The next wall-clock minute, by plain calendar arithmetic (no time zone).
    static func addMinute(_ c: DateComponents) -> DateComponents {
        var utc = Calendar(identifier: .gregorian)
        utc.timeZone = TimeZone(identifier: "UTC")!
        let d = utc.date(from: DateComponents(year: c.year, month: c.month, day: c.day, hour: c.hour, minute: c.minute))!
        return utc.dateComponents([.year, .month, .day, .hour, .minute, .weekday], from: d.addingTimeInterval(60))
    }
}
