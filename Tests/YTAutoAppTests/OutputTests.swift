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
