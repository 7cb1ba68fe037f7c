import Foundation
import Synchronization
import Testing
import YTAutoCore
@testable import YTAutoMedia
import YTAutoSupport
import YTAutoTestSupport

/// The offline writer does not repeat a channel: the hooks, titles, calls to action and body
/// sentences it has gone longest without come first, from the channel's history on disk.
@Suite struct ScriptVarietyTests {
    let dir = TempDir("ytauto-variety")

    static func sentences(_ text: String) -> Set<String> { Set(Sentences.split(text)) }

    /// `count` scripts in a row on one channel, each made with the ones before as its history.
    static func series(_ type: ChannelType, count: Int, history: Bool = true, seconds: ClosedRange<Int> = 45...60,
                       oneSeed: Bool = false) async throws -> [Script] {
        var c = ChannelConfig.defaults(for: type)
        c.durationRange = .init(min: seconds.lowerBound, max: seconds.upperBound)
        var recent: [ChannelHistory.Entry] = []
        var out: [Script] = []
        for n in 0..<count {
            let topic = c.topics[oneSeed ? 0 : n % c.topics.count]
            var s = try await TemplateScriptGenerator(wordsPerSecond: 2.6, seed: oneSeed ? "0" : String(n), recent: history ? recent : [])
                .generate(topic: topic, channel: c)
            // As the script stage keeps it: the title in title case.
            s.title = PublishedText.title(s.title, topic: topic)
            try ScriptValidator(wordsPerSecond: 2.6).validate(s, channel: c)
            recent.insert(.init(job: Int64(n), at: Date(), topic: topic, script: s), at: 0)
            out.append(s)
        }
        return out
    }

    @Test(arguments: ChannelType.allCases)
    func aChannelGoesThroughEveryHookTitleAndCallToActionBeforeRepeatingOne(type: ChannelType) async throws {
        let t = Templates.of(type)
        let scripts = try await Self.series(type, count: t.hooks.count)
        // Which template each script's hook came from, and so on.
        func used(_ templates: [String], _ part: TemplateScriptGenerator.Part) -> [Int] {
            scripts.enumerated().map { n, s in
                let topic = ChannelConfig.defaults(for: type).topics[n % ChannelConfig.defaults(for: type).topics.count]
                return templates.firstIndex { TemplateScriptGenerator.holds(s, part, TemplateScriptGenerator.fill($0, topic: topic)) } ?? -1
            }
        }
        let hooks = used(t.hooks, .hook), titles = used(t.titles, .title), ctas = used(t.ctas, .cta)
        #expect(!hooks.contains(-1) && !titles.contains(-1) && !ctas.contains(-1), "hooks \(hooks), titles \(titles), ctas \(ctas)")
        #expect(Set(hooks).count == t.hooks.count, "hooks \(hooks)")
        #expect(Set(titles.prefix(t.titles.count)).count == min(t.titles.count, scripts.count), "titles \(titles)")
        #expect(Set(ctas.prefix(t.ctas.count)).count == min(t.ctas.count, scripts.count), "ctas \(ctas)")
        #expect(t.hooks.count >= 4 && t.ctas.count >= 3 && t.titles.count >= 4)
    }

    /// The horror templates write invented stories: nothing in them tells the viewer a story is
    /// true (YouTube's rules on misleading content, and the viewer's trust).
    /// A title or hook never says the topic's words twice: "{Topic}, In Plain Words" on the
    /// topic "compound interest in plain words" made "Compound Interest in Plain Words, in Plain
    /// Words". Every default topic of every type, with each title and hook template in turn.
    @Test(arguments: ChannelType.allCases)
    func aTitleOrHookNeverSaysTheTopicsWordsTwice(type: ChannelType) async throws {
        let c = ChannelConfig.defaults(for: type)
        func pairs(_ text: String) -> [String] {
            let words = text.lowercased().split { !$0.isLetter && !$0.isNumber && $0 != "'" }.map(String.init)
            return zip(words, words.dropFirst()).map { "\($0) \($1)" }
        }
        var twice: [String] = []
        for topic in Set(c.topics + ChannelConfig.shorts(of: type).topics) {
            // Enough seeds that every template comes first for some of them.
            for seed in 0..<24 {
                let script = try await TemplateScriptGenerator(wordsPerSecond: 2.6, seed: String(seed)).generate(topic: topic, channel: c)
                for text in [script.title, script.hook] {
                    // What the text says besides the topic itself, once.
                    guard let at = text.range(of: topic, options: .caseInsensitive) else { continue }
                    let rest = text.replacingCharacters(in: at, with: " | ")
                    let shared = Set(pairs(topic)).intersection(rest.split(separator: "|").flatMap { pairs(String($0)) })
                    if !shared.isEmpty { twice.append("\(text) (\(shared.sorted().joined(separator: ", ")))") }
                }
            }
        }
        #expect(twice.isEmpty, "\(Set(twice).sorted().prefix(5))")
    }

    @Test func noHorrorTemplateCallsItsStoryTrue() {
        let t = Templates.of(.horror)
        for text in t.titles + t.hooks + t.body + t.ctas {
            let lower = text.lowercased()
            #expect(!lower.contains("true story") && !lower.contains("really happened") && !lower.contains("based on real"), "\(text)")
        }
    }

    @Test(arguments: ChannelType.allCases)
    func theNextScriptsBodyUsesTheSentencesTheLastOneDidNot(type: ChannelType) async throws {
        let pool = Templates.of(type).body.count
        let scripts = try await Self.series(type, count: 2)
        let a = Self.sentences(scripts[0].body), b = Self.sentences(scripts[1].body)
        // The second takes every sentence the first left out before any the first used, so
        // they share only what the pool's size forces (a sentence filled with another topic
        // counts as another sentence, so this bounds it from above).
        let shared = a.intersection(b).count
        #expect(shared <= max(0, a.count + b.count - pool) + 1, "\(shared) shared of \(a.count) and \(b.count), pool \(pool)")
        // Scripts short enough that the pool need not repeat, all drawn with one seed on one
        // topic (`oneSeed`): with the history, consecutive ones share nothing; without it, they are
        // the same script (so it is the history that keeps them apart, not chance).
        var withHistory = 0, without = 0
        let h = try await Self.series(type, count: 6, seconds: 20...30, oneSeed: true)
        let n = try await Self.series(type, count: 6, history: false, seconds: 20...30, oneSeed: true)
        for (x, y) in zip(h, h.dropFirst()) { withHistory += Self.sentences(x.body).intersection(Self.sentences(y.body)).count }
        for (x, y) in zip(n, n.dropFirst()) { without += Self.sentences(x.body).intersection(Self.sentences(y.body)).count }
        #expect(withHistory == 0 && without > 0, "consecutive scripts share \(withHistory) sentences with the history, \(without) without")
        #expect(n.allSatisfy { $0.body == n[0].body }, "without the history, one seed and one topic make one script")
    }

    /// The channel's videos, one after another, never repeat one recent video's sentences as the
    /// near-duplicate check counts them (at its default 60 %), for as long as a channel runs: taking
    /// the sentences used longest ago alone came back round to one video's sentences (a 45–60 s
    /// facts short failed `video.near_duplicate` from its third video).
    /// A caller writing script after script (sixty videos of a channel, a test's series) gives its
    /// thread up between them: on one thread shared with a task that counts its turns, that task
    /// gets turns while twenty scripts are written, not only once they all are.
    @Test func writingScriptAfterScriptLeavesTheThreadToOtherTasks() async throws {
        let thread = OneThread()
        let turns = Mutex(0), writing = Mutex(true)
        let counter = Task(executorPreference: thread) {
            while writing.withLock({ $0 }) {
                turns.withLock { $0 += 1 }
                await Task.yield()
            }
        }
        let during = try await withTaskExecutorPreference(thread) {
            let c = ChannelConfig.defaults(for: .facts)
            var recent: [ChannelHistory.Entry] = []
            let before = turns.withLock { $0 }
            for n in 0..<20 {
                let s = try await TemplateScriptGenerator(wordsPerSecond: 2.6, seed: String(n), recent: recent).generate(topic: c.topics[0], channel: c)
                recent.insert(.init(job: Int64(n), at: Date(), topic: c.topics[0], script: s), at: 0)
            }
            return turns.withLock { $0 } - before
        }
        writing.withLock { $0 = false }
        await counter.value
        #expect(during >= 10, "the counting task had \(during) turns while twenty scripts were written")
    }

    @Test(arguments: ChannelType.allCases)
    func aShortsChannelsVideosNeverRepeatARecentOne(type: ChannelType) async throws {
        var c = ChannelConfig.shorts(of: type)
        c.durationRange = ChannelConfig.shorts(of: type).durationRange
        var recent: [ChannelHistory.Entry] = []
        var worst = 0.0
        for n in 0..<60 {
            let topic = c.topics[n % c.topics.count]
            let s = try await TemplateScriptGenerator(wordsPerSecond: 2.6, seed: String(n), recent: recent).generate(topic: topic, channel: c)
            let sentences = [s.hook, s.body, s.cta].flatMap(Sentences.split)
            if let hit = NearDuplicates.repeatedScript(sentences, recent: recent, percent: 60) {
                Issue.record("video \(n) repeats \(Int(hit.share * 100)) % of video \(hit.entry.job)")
            }
            worst = max(worst, recent.map { NearDuplicates.overlap(sentences, with: [$0.script.hook, $0.script.body, $0.script.cta].flatMap(Sentences.split)) }.max() ?? 0)
            recent.insert(.init(job: Int64(n), at: Date(), topic: topic, script: s), at: 0)
            recent = Array(recent.prefix(50))  // as many as the channel history keeps
        }
        #expect(worst < 0.5, "the largest share of one recent video's sentences was \(Int(worst * 100)) %")
    }

    @Test func theHistoryKeepsTheNewestEntriesOnceAJobAcrossConcurrentWriters() async throws {
        let history = ChannelHistory(folder: dir.url.appending(path: "history"), limit: 150)
        let script = Script(title: "T", hook: "H.", body: "B.", cta: "C.", channel: .facts)
        // 200 writers at once (each its own open file, as separate processes would have): none lost.
        let failures = Locked<[String]>([])
        await withTaskGroup(of: Void.self) { group in
            for n in 0..<200 {
                group.addTask {
                    do { try await history.record(.init(job: Int64(n), at: Date(), topic: "t\(n)", script: script), channel: "facts-shorts") } catch {
                        failures.update { $0.append("\(error)") }
                    }
                }
            }
        }
        #expect(failures.value.isEmpty, "\(failures.value)")
        let entries = try await history.recent("facts-shorts")
        #expect(entries.count == 150 && Set(entries.map(\.job)).count == 150)
        // A job's script made again replaces its entry and becomes the newest.
        let oldest = try #require(entries.last?.job)
        try await history.record(.init(job: oldest, at: Date(), topic: "again", script: script), channel: "facts-shorts")
        let after = try await history.recent("facts-shorts")
        #expect(after.count == 150 && after.first?.topic == "again" && after.filter { $0.job == oldest }.count == 1)
        #expect(try await history.recent("horror-stories").isEmpty)
        // A file that is not history is set aside, and the channel starts again.
        let file = dir.url.appending(path: "history/facts-shorts.json")
        try Data("{not json".utf8).write(to: file)
        #expect(try await history.recent("facts-shorts").isEmpty)
        #expect(FileManager.default.fileExists(atPath: file.path + ".broken"))
        try await history.record(.init(job: 99, at: Date(), topic: "fresh", script: script), channel: "facts-shorts")
        #expect(try await history.recent("facts-shorts").map(\.job) == [99])
    }

    @Test func theScriptStageRecordsEachJobAndTheNextJobSaysSomethingElse() async throws {
        var channel = ChannelConfig.defaults(for: .horror)
        channel.durationRange = .init(min: 20, max: 40)
        let pipeline = MediaPipeline(channels: [channel], workDirectory: dir.url.appending(path: "work"),
                                     outputDirectory: dir.url.appending(path: "out"), tools: try ToolRunner())
        var hooks: [String] = []
        for id in Int64(1)...4 {
            // The same topic every time: only the history keeps them apart.
            let job = Job.running(id, channel: channel.name, topic: "the lighthouse")
            _ = try await pipeline.run(stage: "script", job: job, dryRun: false)
            let file = try JSONSerialization.jsonObject(with: Data(contentsOf: dir.url.appending(path: "work/\(id)/script.json"))) as? [String: Any]
            hooks.append(try #require((file?["script"] as? [String: Any])?["hook"] as? String))
        }
        #expect(Set(hooks).count == 4, "\(hooks)")
        let recorded = try await ChannelHistory(folder: dir.url.appending(path: "work/history")).recent(channel.name)
        #expect(recorded.map(\.job) == [4, 3, 2, 1] && recorded.map(\.script.hook) == hooks.reversed())
    }
}
