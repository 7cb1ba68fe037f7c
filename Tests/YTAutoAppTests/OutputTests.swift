import Foundation
import Testing
import YTAutoCore
@testable import YTAutoApp

/// Tables are padded by the columns a terminal shows, not by UTF-16 length or characters.
@Suite struct OutputTests {
    @Test func emojiAndWideCharactersAreNeitherCutNorMisaligned() {
        let topics = ["ghost story 👻 at night", "东京的幽灵", "café au lait", "👨‍👩‍👧 family", "🇯🇵 flag", "plain"]
        let table = Output.table(["topic", "state"], topics.map { [$0, "queued"] })
        let lines = table.split(separator: "\n").map(String.init)
        #expect(lines.count == topics.count + 1)
        for (line, topic) in zip(lines.dropFirst(), topics) {
            #expect(line.hasPrefix(topic), "cut: \(line)")
            // The second column starts at the same screen column on every line.
            #expect(line.hasSuffix("queued"))
            #expect(DisplayWidth.of(String(line.dropLast(6))) == DisplayWidth.of(String(lines[0].dropLast(5))), "misaligned: \(line)")
        }
        let widest = DisplayWidth.of("ghost story 👻 at night")
        #expect(lines[0].hasPrefix("topic" + String(repeating: " ", count: widest - 5 + 2) + "state"))
    }

    @Test func widths() {
        #expect(DisplayWidth.of("abc") == 3)
        #expect(DisplayWidth.of("东京") == 4)
        #expect(DisplayWidth.of("👻") == 2)
        #expect(DisplayWidth.of("👨‍👩‍👧") == 2)
        #expect(DisplayWidth.of("🇯🇵") == 2)
        #expect(DisplayWidth.of("e\u{301}") == 1)
        #expect(DisplayWidth.of("\u{301}") == 0)
        #expect(DisplayWidth.of("ＡＢ") == 4)
        #expect(DisplayWidth.of("❤️") == 2)
    }
}

/// Time options name their zone: a time without one is refused, not taken as UTC.
@Suite struct TimeOptionTests {
    @Test func aTimeWithoutAZoneIsRefusedAndSaysHowToGiveOne() throws {
        #expect(try OptionCheck.time("2026-03-29T02:30:00Z", "--at") == Timestamp.date("2026-03-29T02:30:00.000Z"))
        #expect(try OptionCheck.time("2026-03-29T02:30:00+01:00", "--at") == Timestamp.date("2026-03-29T01:30:00.000Z"))
        for text in ["2026-03-29T02:30:00", "2026-03-29T02:30:00.250", "2026-03-29T02:30"] {
            #expect {
                try OptionCheck.time(text, "--at")
            } throws: { error in
                "\(error)".contains("--at '\(text)' has no time zone") && "\(error)".contains("\(text)Z")
            }
        }
        // `--since` takes a time the same way, and says so the same way (it said "neither ISO-8601 nor an age like 7d").
        #expect {
            try OptionCheck.since("2026-03-29T02:30:00")
        } throws: { error in
            "\(error)".contains("--since '2026-03-29T02:30:00' has no time zone")
        }
        #expect(try OptionCheck.since("2026-03-29T02:30:00Z") == Timestamp.date("2026-03-29T02:30:00.000Z"))
    }

    /// A time that does not exist is refused, not rolled over into another instant (Foundation's
    /// parsers took 30 February for 2 March and +25:00 for +02:00).
    @Test func aTimeThatDoesNotExistIsRefused() throws {
        for text in ["2026-02-30T00:00:00Z", "2026-02-29T12:00:00Z", "2026-04-31T00:00:00Z", "2026-13-01T00:00:00Z",
                     "2026-12-01T24:00:00Z", "2026-12-01T23:60:00Z", "2026-12-01T23:59:60Z",
                     "2026-03-08T02:30:00+25:00", "2026-03-08T02:30:00+99:00", "2026-03-08T02:30:00+05:99",
                     "2026-03-08T02:30:00-25:00", "2026-03-08T02:30:00+14:01"] {
            #expect(throws: (any Error).self, "\(text)") { try OptionCheck.time(text, "--now") }
            #expect(throws: (any Error).self, "\(text)") { try OptionCheck.since(text) }
        }
        #expect { try OptionCheck.time("2026-02-30T00:00:00Z", "--at") } throws: { "\($0)".contains("a real date") }
        // What does exist, in each of its spellings.
        let cases: [(String, String)] = [
            ("2028-02-29T12:00:00Z", "2028-02-29T12:00:00.000Z"), ("2026-12-01T23:59:59.250Z", "2026-12-01T23:59:59.250Z"),
            ("2026-12-01T18:00:00+14:00", "2026-12-01T04:00:00.000Z"), ("2026-12-01T18:00:00-12:00", "2026-12-02T06:00:00.000Z"),
            ("2026-12-01T18:00:00+0530", "2026-12-01T12:30:00.000Z"), ("2026-12-01T18:00:00z", "2026-12-01T18:00:00.000Z"),
            ("2026-12-01 18:00:00.000Z", "2026-12-01T18:00:00.000Z"),
        ]
        for (text, instant) in cases {
            #expect(try OptionCheck.time(text, "--at") == Timestamp.date(instant), "\(text)")
        }
    }
}

/// Sizes read "0 bytes" for nothing, not Foundation's "Zero KB".
@Suite struct ByteCountTests {
    @Test func nothingIsZeroBytes() {
        #expect(Output.bytes(0) == "0 bytes")
        #expect(Output.bytes(1_500_000).hasSuffix("MB"))
    }
}

/// The console's charts of finished jobs (`Chart.hourly`).
@Suite struct ChartTests {
    /// The x of each time label's text (`12-05`, `06:00`; not the count axis's), by its text.
    static func labels(_ svg: String) -> [String: String] {
        Dictionary(svg.matches(of: /<text x="([0-9.]+)" y="[0-9]+">([0-9]{2}[:-][0-9]{2})<\/text>/).map { (String($0.2), String($0.1)) }, uniquingKeysWith: { a, _ in a })
    }

    /// The week's chart puts each day's label at the bar of that day's first UTC hour, so a job
    /// finished just after midnight stands under its own day (drawn at 00:40, "12-04" stood at
    /// 01:00 of 12-04 and 12-05's first hour under it); the day's chart labels 00, 06, 12, 18.
    @Test func eachLabelStandsAtTheHourItNames() throws {
        let now = try #require(Timestamp.date("2026-12-05T00:40:00.000Z"))
        let midnight = try #require(Timestamp.date("2026-12-05T00:00:00.000Z"))
        let week = Chart.hourly([HourlyCount(hour: midnight, state: .succeeded, count: 3)], hours: 168, now: now)
        let bar = try #require(week.firstMatch(of: /<rect x="([0-9.]+)"/)?.1)
        let labels = Self.labels(week)
        #expect(labels["12-05"] == String(bar), "\(labels) bar at \(bar)")
        // The week runs from 11-28 01:00 to 12-05 00:00: seven midnights, 11-29 the first.
        #expect(labels.count == 7 && labels["11-29"] != nil && labels["11-28"] == nil, "\(labels)")
        let day = Self.labels(Chart.hourly([], hours: 24, now: try #require(Timestamp.date("2026-12-05T13:10:00.000Z"))))
        #expect(Set(day.keys) == ["18:00", "00:00", "06:00", "12:00"], "\(day)")
    }
}

/// The live view's running jobs, as `/events` sends them.
@Suite struct LiveEventJSONTests {
    /// A job just leased has no stage yet: its event still has every key the docs list, `stage`
    /// and `topic` as null (the key was left out).
    @Test func everyKeyIsThereWithNullForNoValue() throws {
        let job = RunningJobJSON(id: 15, channel: "facts", topic: nil, stage: nil, stageIndex: 0, stages: 7, attempt: 1)
        let object = try #require(try JSONSerialization.jsonObject(with: JSONEncoder().encode(job)) as? [String: Any])
        #expect(Set(object.keys) == ["id", "channel", "topic", "stage", "stage_index", "stages", "attempt"], "\(object)")
        #expect(object["stage"] is NSNull && object["topic"] is NSNull, "\(object)")
    }
}
