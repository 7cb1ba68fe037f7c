import Foundation
import Testing
import YTAutoCore

@Suite struct ModelTests {
    @Test func scriptCountsNarratedWordsOnly() {
        let s = Script(title: "Ten Words Title Here", hook: "Did you know — this?", body: "Honey never spoils, ever.", cta: "Subscribe now!", channel: .facts)
        // "Did you know this?" = 4 ("—" is not a word), body 4, cta 2.
        #expect(s.wordCount == 10)
        #expect(!s.narration.contains("Ten Words Title"))
        #expect(Script.countWords("  ") == 0)
    }

    /// `hasWords` says what `countWords(_:) > 0` says, without counting: random texts of letters,
    /// digits, kana, kanji, the katakana middle dot (counted as a word), punctuation and spaces.
    @Test func aTextHasWordsExactlyWhenItCountsSome() {
        let pieces = ["a", "7", "é", "e\u{301}", "\u{301}", " ", "\t", "—", ".", "。", "は", "漢", "・", "ｱ", "🙂", "٣", "'"]
        var rng = SplitMix64(seed: 11)
        var with = 0
        for _ in 0..<3000 {
            let text = (0..<Int.random(in: 0...5, using: &rng)).map { _ in pieces.randomElement(using: &rng)! }.joined()
            #expect(Script.hasWords(text) == (Script.countWords(text) > 0), "\(text.debugDescription)")
            if Script.hasWords(text) { with += 1 }
        }
        #expect(with > 300 && with < 2900)  // both answers were asked for
    }

    @Test func videoProjectMovesForwardOnly() throws {
        var p = VideoProject(id: "1", channel: .horror)
        #expect(p.status == .pending)
        #expect(throws: VideoProject.InvalidTransition.self) { try p.markCompleted(outputPath: "/x.mp4") }
        try p.start(stage: "script")
        try p.start(stage: "narration")
        try p.markCompleted(outputPath: "/x.mp4")
        #expect(p.status == .completed)
        #expect(p.outputPath == "/x.mp4")
        #expect(throws: VideoProject.InvalidTransition.self) {
            try p.markFailed(ScriptValidationError(issues: ["late"]))
        }

        var q = VideoProject(id: "2", channel: .finance)
        try q.markFailed(LLMContentFilterError(message: "refused"))
        #expect(q.status == .failed(code: "llm.content_filtered", message: "refused"))
        #expect(throws: VideoProject.InvalidTransition.self) { try q.start(stage: "script") }
    }

    @Test func channelDefaultsMatchTheOriginal() {
        let h = ChannelConfig.defaults(for: .horror)
        #expect(h.schedule == ["0 18 * * 1,3,5"])
        #expect(h.durationRange == .init(min: 480, max: 720))
        #expect(ChannelConfig.defaults(for: .facts).schedule == ["0 18 * * 2,4,6"])
        #expect(ChannelConfig.defaults(for: .facts).durationRange == .init(min: 300, max: 480))
        #expect(ChannelConfig.defaults(for: .finance).schedule == ["0 9 * * *"])
        #expect(ChannelConfig.defaults(for: .finance).durationRange == .init(min: 300, max: 600))
        for t in ChannelType.allCases { #expect(ChannelConfig.defaults(for: t).problems().isEmpty) }
    }

    @Test func channelProblemsAreReported() {
        var c = ChannelConfig.defaults(for: .facts)
        c.durationRange = .init(min: 500, max: 100)
        c.schedule = ["0 18 * *"]
        c.topics = []
        let problems = c.problems()
        #expect(problems.count == 3)
        #expect(problems.contains { $0.field == "schedule" && $0.index == 0 && $0.message.contains("needs 5 fields") })
        #expect(Set(problems.map(\.field)) == ["duration", "schedule", "topics"])
    }

    @Test func timestampsRoundTripAndSortAsText() throws {
        let d = Date(timeIntervalSince1970: 1_795_000_000.123)
        let s = Timestamp.string(d)
        #expect(s == "2026-11-18T11:06:40.123Z")
        let back = try #require(Timestamp.date(s))
        #expect(abs(back.timeIntervalSince(d)) < 0.001)
        #expect(Timestamp.date("2026-11-18 08:26:40") != nil)
        #expect(Timestamp.date("2026-13-18T08:26:40Z") == nil)
        #expect(Timestamp.date("yesterday") == nil)
        let earlier = Timestamp.string(d.addingTimeInterval(-0.5))
        #expect(earlier < s)
    }

    @Test func checksumIsSHA256() {
        #expect(Checksum.sha256Hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }

    /// A file over several 1 MiB reads, not a multiple of the buffer, hashes as its bytes do;
    /// an empty file and a missing one behave.
    @Test func fileChecksumMatchesTheBytesAndNamesAMissingFile() throws {
        let dir = FileManager.default.temporaryDirectory.appending(path: "ytauto-checksum-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        var bytes = [UInt8](repeating: 0, count: 3 * (1 << 20) + 12_345)
        for i in bytes.indices { bytes[i] = UInt8(truncatingIfNeeded: i &* 2_654_435_761 >> 13) }
        let file = dir.appending(path: "big.bin")
        try Data(bytes).write(to: file)
        let (hex, count) = try Checksum.sha256Hex(fileAt: file)
        #expect(hex == Checksum.sha256Hex(Data(bytes)) && count == Int64(bytes.count))
        let empty = dir.appending(path: "empty.bin")
        try Data().write(to: empty)
        #expect(try Checksum.sha256Hex(fileAt: empty) == ("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", 0))
        let missing = dir.appending(path: "missing.bin")
        let error = try #require(throws: CocoaError.self) { try Checksum.sha256Hex(fileAt: missing) }
        #expect(error.code == .fileReadNoSuchFile && "\(error)".contains("missing.bin"))
    }
}
