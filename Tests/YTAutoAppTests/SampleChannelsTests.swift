import Foundation
import Testing
import YTAutoCore
@testable import YTAutoApp
@testable import YTAutoMedia
import YTAutoSupport
import YTAutoTestSupport

/// The configuration `ytauto init` writes keeps making videos offline for as long as it runs:
/// each of its channels, its scripts written by the offline template writer at the channel's
/// own voice's measured speaking rate, goes 60 videos without one repeating a recent video's
/// sentences as the near-duplicate check counts them. The long channels once took their types'
/// 5–12 minute defaults, beyond what the templates keep apart: facts failed
/// `video.near_duplicate` from its second video, horror its third, finance its fourth. And no
/// video repeats itself: each body template is used once in a script (a 4-minute horror story
/// once told "A voice whispered my name" twice, in two wordings).
@Suite struct SampleChannelsTests {
    let dir = TempDir("ytauto-sample-channels")

    @Test(arguments: AppConfig.sample.channels.map(\.name))
    func theSamplesChannelsNeverRepeatARecentVideoOffline(name: String) async throws {
        let channel = try AppConfig.sample.channel(named: name)
        #expect(channel.services.script == .template)
        let rate = try await EspeakTTS(tools: try ToolRunner(), language: channel.spokenLanguage)
            .measureRate(voiceID: channel.voiceID, scratch: dir.url.appending(path: name))
        var recent: [ChannelHistory.Entry] = []
        var failures: [String] = []
        var repeatsItself: [String] = []
        let templates = Templates.of(channel.type).body
        var templateOf: [String: [String: Int]] = [:]
        for n in 0..<60 {
            let topic = channel.topics[n % channel.topics.count]
            let script = try await TemplateScriptGenerator(wordsPerSecond: rate, seed: String(n), recent: recent).generate(topic: topic, channel: channel)
            try ScriptValidator(wordsPerSecond: rate).validate(script, channel: channel)
            // Which template each body sentence is a wording of (once a topic).
            if templateOf[topic] == nil {
                var map: [String: Int] = [:]
                for (t, text) in templates.enumerated() {
                    for w in TemplateScriptGenerator.wordings(text) { map[TemplateScriptGenerator.fill(w, topic: topic)] = t }
                }
                templateOf[topic] = map
            }
            let template = templateOf[topic] ?? [:]
            let body = Sentences.split(script.body)
            let used = body.compactMap { template[$0] }
            #expect(used.count == body.count, "a body sentence that is no template's: \(body.filter { template[$0] == nil })")
            if Set(used).count < used.count {
                let twice = Dictionary(grouping: body, by: { template[$0] ?? -1 }).values.filter { $0.count > 1 }
                repeatsItself.append("video \(n) (\(body.count) sentences): \(twice.first ?? [])")
            }
            let sentences = [script.hook, script.body, script.cta].flatMap(Sentences.split)
            if let hit = NearDuplicates.repeatedScript(sentences, recent: recent, percent: channel.duplicateSentencesPercent) {
                failures.append("video \(n) repeats \(Int(hit.share * 100)) % of video \(hit.entry.job)")
            }
            recent.insert(.init(job: Int64(n), at: Date(), topic: topic, script: script), at: 0)
            recent = Array(recent.prefix(50))
        }
        #expect(repeatsItself.isEmpty, "\(name), \(templates.count) templates: \(repeatsItself.prefix(2)) (\(repeatsItself.count) of 60)")
        #expect(failures.isEmpty, "\(name) at \(channel.durationRange.min)–\(channel.durationRange.max) s, \(String(format: "%.2f", rate)) words/s: \(failures.prefix(3)) (\(failures.count) of 60)")
    }
}
