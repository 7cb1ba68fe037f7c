import Foundation
import Testing
import YTAutoCore
import YTAutoMedia
import YTAutoSupport
import YTAutoTestSupport

@Suite struct ScriptTests {
    func channel(_ type: ChannelType) -> ChannelConfig {
        var c = ChannelConfig.defaults(for: type)
        c.durationRange = .init(min: 20, max: 40)
        return c
    }

    @Test(arguments: ChannelType.allCases)
    func generatedScriptsPassTheValidatorAndVary(type: ChannelType) async throws {
        let c = channel(type)
        let rate = 2.5
        var bodies = Set<String>()
        for topic in c.topics {
            let s = try await TemplateScriptGenerator(wordsPerSecond: rate, seed: "1").generate(topic: topic, channel: c)
            try ScriptValidator(wordsPerSecond: rate).validate(s, channel: c)
            #expect(s.title.count <= 100)
            #expect(Double(s.wordCount) / rate >= 18 && Double(s.wordCount) / rate <= 44, "\(s.wordCount) words")
            bodies.insert(s.body)
        }
        #expect(bodies.count == c.topics.count)
        let again = try await TemplateScriptGenerator(wordsPerSecond: rate, seed: "1").generate(topic: c.topics[0], channel: c)
        let other = try await TemplateScriptGenerator(wordsPerSecond: rate, seed: "2").generate(topic: c.topics[0], channel: c)
        #expect(again == (try await TemplateScriptGenerator(wordsPerSecond: rate, seed: "1").generate(topic: c.topics[0], channel: c)))
        #expect(again.body != other.body || again.hook != other.hook || again.title != other.title)
        if type == .finance { #expect(again.cta.contains("not financial advice")) }
    }

    /// A topic of one word longer than a title (300 characters are allowed) still makes a title
    /// that names it, cut inside the word within 100 characters, never a title of "…" alone.
    @Test func aTopicOfOneLongWordMakesATitleThatNamesIt() async throws {
        let c = channel(.facts)
        let topic = "Pneumonoultramicroscopicsilicovolcanoconiosis" + String(repeating: "x", count: 150)
        var titles = Set<String>()
        for seed in 1...12 {
            let s = try await TemplateScriptGenerator(wordsPerSecond: 2.5, seed: "\(seed)").generate(topic: topic, channel: c)
            titles.insert(s.title)
            #expect(s.title.count <= 100 && s.title.hasSuffix("…"), "\(s.title)")
            #expect(s.title.lowercased().contains("pneumonoultramicroscopic"), "\(s.title)")
        }
        #expect(titles.count > 1, "one title template only: \(titles)")
    }

    @Test func theValidatorListsEveryIssue() {
        var c = channel(.finance)
        c.forbiddenTopics = ["get rich quick"]
        let bad = Script(
            title: String(repeating: "x", count: 101), hook: "", body: "Get rich quick with this one trick.", cta: "Subscribe.", channel: .finance)
        #expect {
            try ScriptValidator(wordsPerSecond: 2.5).validate(bad, channel: c)
        } throws: { error in
            guard let e = error as? ScriptValidationError else { return false }
            let all = e.issues.joined(separator: " | ")
            return e.code == "script.invalid" && all.contains("hook is missing") && all.contains("101 characters")
                && all.contains("forbidden topic 'get rich quick'") && all.contains("disclaimer is missing")
                && all.contains("the channel needs 20-40 s")
        }
    }

    @Test func sentencesSplitOnTheirEnds() {
        #expect(Sentences.split("One. Two words! Three? — four") == ["One.", "Two words!", "Three?", "— four"])
    }

    /// The splitter (slices of the text, a cheap word test) against the plainest one, written here:
    /// a sentence built a character at a time, kept if it has a word as `Script.countWords` counts
    /// them. Random texts of letters, digits, kana and kanji, the six ends, an end with a combining
    /// mark (one character, not an end), spaces and dashes.
    @Test func sentencesSplitAsThePlainestSplitterDoes() {
        func plain(_ text: String) -> [String] {
            var out: [String] = [], current = ""
            for ch in text {
                current.append(ch)
                if [".", "!", "?", "。", "！", "？"].contains(ch) {
                    let s = current.trimmingCharacters(in: .whitespacesAndNewlines)
                    if Script.countWords(s) > 0 { out.append(s) }
                    current = ""
                }
            }
            let rest = current.trimmingCharacters(in: .whitespacesAndNewlines)
            return Script.countWords(rest) > 0 ? out + [rest] : out
        }
        let pieces = ["a", "Z", "7", "é", " ", "\n", "—", "-", "'", ".", "!", "?", "。", "！", "？", ".\u{301}", "は", "漢", "・", "ｱ", "🙂", "٣"]
        var rng = SplitMix64(seed: 7)
        var ends = 0
        for _ in 0..<3000 {
            let text = (0..<Int.random(in: 0...12, using: &rng)).map { _ in pieces.randomElement(using: &rng)! }.joined()
            let split = Sentences.split(text)
            #expect(split == plain(text), "\(text.debugDescription)")
            ends += split.count
        }
        #expect(ends > 1000)  // the texts had sentences to split
    }
}

/// The whole pipeline on real binaries, with a few seconds of video.
@Suite struct MediaPipelineTests {
    let dir = TempDir("ytauto-pipeline")

    /// The artifacts of a stage that must have run; a skipped stage fails the test here.
    static func done(_ outcome: StageOutcome, sourceLocation: SourceLocation = #_sourceLocation) throws -> [Artifact] {
        guard case .done(let artifacts) = outcome else {
            Issue.record("the stage was skipped", sourceLocation: sourceLocation)
            throw StageSkipped()
        }
        return artifacts
    }
    struct StageSkipped: Error {}

    static func verify(_ artifacts: [Artifact]) throws -> Bool {
        try artifacts.allSatisfy { a in try Files.artifact(a.path) == a }
    }

    @Test func everyStageMakesVerifiableArtifactsAndARetryKeepsFinishedScenes() async throws {
        var channel = ChannelConfig.defaults(for: .facts)
        channel.format = .short
        channel.durationRange = .init(min: 8, max: 20)
        let tools = try ToolRunner()
        let pipeline = MediaPipeline(channels: [channel], workDirectory: dir.url.appending(path: "work"),
                                     outputDirectory: dir.url.appending(path: "out"), tools: tools)
        let j = Job.running(7, channel: "facts", topic: "how honey never spoils")
        var recorded: [String: [Artifact]] = [:]
        for stage in ["script", "narration", "images"] {
            let artifacts = try Self.done(try await pipeline.run(stage: stage, job: j, dryRun: false))
            #expect(try Self.verify(artifacts) && !artifacts.isEmpty)
            recorded[stage] = artifacts
        }
        let images = recorded["images"]!.filter { $0.path.hasSuffix(".png") }
        #expect(images.count >= 2, "needs two scenes to show a partial failure")
        // Scene 2's segment (after scene 1 and the crossfade into scene 2) cannot be written (a directory
        // is in its place): the stage fails after scene 1's segment is done.
        let clips = dir.url.appending(path: "work/7/clips")
        try FileManager.default.createDirectory(at: clips.appending(path: "seg0002.mp4/blocker"), withIntermediateDirectories: true)
        await #expect(throws: (any Error).self) { try await pipeline.run(stage: "clips", job: j, dryRun: false) }
        let first = clips.appending(path: "seg0000.mp4").path
        let before = try FileManager.default.attributesOfItem(atPath: first)
        try FileManager.default.removeItem(at: clips.appending(path: "seg0002.mp4"))
        let clipArtifacts = try Self.done(try await pipeline.run(stage: "clips", job: j, dryRun: false))
        let clipsVerify = try Self.verify(clipArtifacts)
        // Each scene alone and each crossfade: 2n − 1 segments, with the captions and the segment list.
        #expect(clipArtifacts.filter { $0.path.hasSuffix(".mp4") }.count == 2 * images.count - 1 && clipsVerify)
        let after = try FileManager.default.attributesOfItem(atPath: first)
        #expect(before[.modificationDate] as? Date == after[.modificationDate] as? Date)
        #expect(before[.systemFileNumber] as? Int == after[.systemFileNumber] as? Int)  // scene 1 was kept, not remade

        let composed = try Self.done(try await pipeline.run(stage: "compose", job: j, dryRun: false))
        #expect(try Self.verify(composed))
        let qa = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: composed.first { $0.path.hasSuffix("qa.json") }!.path))) as? [String: Any]
        #expect(abs((qa?["integratedLUFS"] as? Double ?? 0) + 14) <= 1)
        #expect((qa?["worstCaptionOffsetMS"] as? Double ?? 999) <= 100)
        // A short: every word timed by espeak-ng itself, and each lit up within 100 ms of its sound.
        let narration = try JSONSerialization.jsonObject(with: Data(contentsOf: dir.url.appending(path: "work/7/narration.json"))) as? [[String: Any]] ?? []
        #expect(!narration.isEmpty && narration.allSatisfy { $0["wordTiming"] as? String == "exact" && !($0["words"] as? [Any] ?? []).isEmpty })
        #expect((qa?["worstWordOffsetMS"] as? Double ?? 999) <= 100)
        let ass = try String(contentsOf: dir.url.appending(path: "work/7/captions.ass"), encoding: .utf8)
        #expect(ass.contains(",Words,s0w0,") && ass.contains("{\\c\(ChannelStyle.of(.facts).captionHighlight)&}"))
        #expect(qa?["width"] as? Int == 1080 && qa?["height"] as? Int == 1920)
        // The moov atom comes first (faststart).
        let head = try FileHandle(forReadingFrom: URL(fileURLWithPath: composed[0].path)).read(upToCount: 64) ?? Data()
        let moovFirst = try Self.moovBeforeMdat(composed[0].path)
        #expect(String(decoding: head, as: UTF8.self).contains("moov") || moovFirst)

        let thumb = try Self.done(try await pipeline.run(stage: "thumbnail", job: j, dryRun: false))
        #expect(thumb[0].bytes < 2_000_000)
        #expect(try await pipeline.run(stage: "publish", job: j, dryRun: true) == .skipped)
        let published = try Self.done(try await pipeline.run(stage: "publish", job: j, dryRun: false))
        #expect(published.map { URL(fileURLWithPath: $0.path).lastPathComponent } == ["video.mp4", "thumbnail.jpg", "metadata.json", "captions.vtt"])
        #expect(published[0].sha256 == composed[0].sha256)
        #expect(published[0].path.contains("/out/facts/7-how-honey-never-spoils/"))
        // Publishing again is a no-op with the same result.
        let again = try Self.done(try await pipeline.run(stage: "publish", job: j, dryRun: false))
        #expect(again == published)
    }

    @Test func narrationDropsClosingBodySentencesToFitTheChannel() async throws {
        var channel = ChannelConfig.defaults(for: .facts)
        channel.durationRange = .init(min: 3, max: 9)
        let pipeline = MediaPipeline(channels: [channel], workDirectory: dir.url.appending(path: "work"),
                                     outputDirectory: dir.url.appending(path: "out"), tools: try ToolRunner())
        let hook = "Here is a fact.", cta = "Follow for more."
        let body = (1...8).map { "This is body sentence number \($0)." }
        let script: [String: Any] = [
            "script": ["title": "T", "hook": hook, "body": body.joined(separator: " "), "cta": cta, "channel": "facts"],
            "sentences": [hook] + body + [cta], "wordsPerSecond": 2.5, "topic": "t", "hookSentences": 1, "bodySentences": 8,
        ]
        let folder = dir.url.appending(path: "work/9")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try JSONSerialization.data(withJSONObject: script).write(to: folder.appending(path: "script.json"))
        _ = try Self.done(try await pipeline.run(stage: "narration", job: Job.running(9, channel: "facts", topic: "t"), dryRun: false))
        let segments = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: folder.appending(path: "narration.json"))) as? [[String: Any]])
        let texts = segments.compactMap { $0["text"] as? String }
        let total = segments.compactMap { $0["duration"] as? Double }.reduce(0, +)
        #expect(texts.first == hook && texts.last == cta)
        #expect(texts.count < 10 && texts.count >= 3)
        #expect(texts.dropFirst().dropLast() == ArraySlice(body.prefix(texts.count - 2)))  // the closing ones went
        #expect(total <= 7.5 && total >= 3.5, "\(total) s")
        let wav = try await ToolRunner().duration(of: folder.appending(path: "narration.wav").path)
        #expect(abs(wav - total) < 0.05)
    }

    /// A channel with `captions: sentences` shows plain lines with no word lit up, so its QA does
    /// not look for highlights even though espeak-ng timed every word: the video passes, with no
    /// word offset in qa.json.
    @Test func plainSentenceCaptionsPassWithoutAWordCheck() async throws {
        var channel = ChannelConfig.defaults(for: .facts)
        channel.format = .short
        channel.captionStyle = .sentences
        channel.durationRange = .init(min: 2, max: 12)
        let pipeline = MediaPipeline(channels: [channel], workDirectory: dir.url.appending(path: "work"),
                                     outputDirectory: dir.url.appending(path: "out"), tools: try ToolRunner())
        let sentences = ["Honey never spoils.", "Jars from old tombs were still good.", "Follow for more."]
        let script: [String: Any] = [
            "script": ["title": "T", "hook": sentences[0], "body": sentences[1], "cta": sentences[2], "channel": "facts"],
            "sentences": sentences, "wordsPerSecond": 2.5, "topic": "t", "hookSentences": 1, "bodySentences": 1,
        ]
        let folder = dir.url.appending(path: "work/11")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try JSONSerialization.data(withJSONObject: script).write(to: folder.appending(path: "script.json"))
        let j = Job.running(11, channel: "facts", topic: "t")
        for stage in ["narration", "images", "clips"] {
            _ = try Self.done(try await pipeline.run(stage: stage, job: j, dryRun: false))
        }
        let narration = try JSONSerialization.jsonObject(with: Data(contentsOf: folder.appending(path: "narration.json"))) as? [[String: Any]] ?? []
        #expect(narration.count == 3 && narration.allSatisfy { $0["wordTiming"] as? String == "exact" })
        let composed = try Self.done(try await pipeline.run(stage: "compose", job: j, dryRun: false))
        let qa = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: composed.first { $0.path.hasSuffix("qa.json") }!.path))) as? [String: Any]
        #expect(qa?["worstWordOffsetMS"] == nil)
        #expect((qa?["worstCaptionOffsetMS"] as? Double ?? 999) <= 100)
        let ass = try String(contentsOf: folder.appending(path: "captions.ass"), encoding: .utf8)
        #expect(!ass.contains(",Words,") && !ass.contains("{\\c&H"))
    }

    static func moovBeforeMdat(_ path: String) throws -> Bool {
        let data = try FileHandle(forReadingFrom: URL(fileURLWithPath: path)).read(upToCount: 1 << 16) ?? Data()
        let text = String(decoding: data, as: UTF8.self)
        guard let moov = text.range(of: "moov") else { return false }
        guard let mdat = text.range(of: "mdat") else { return true }
        return moov.lowerBound < mdat.lowerBound
    }
}
