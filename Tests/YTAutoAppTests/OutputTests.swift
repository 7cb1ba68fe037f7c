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
        // `--since` takes a time the same way.
        #expect(throws: (any Error).self) { try OptionCheck.since("2026-03-29T02:30:00") }
        #expect(try OptionCheck.since("2026-03-29T02:30:00Z") == Timestamp.date("2026-03-29T02:30:00.000Z"))
    }
}

/// Sizes read "0 bytes" for nothing, not Foundation's "Zero KB".
@Suite struct ByteCountTests {
    @Test func nothingIsZeroBytes() {
        #expect(Output.bytes(0) == "0 bytes")
        #expect(Output.bytes(1_500_000).hasSuffix("MB"))
    }
}
