import Foundation
import Testing
import YTAutoCore
@testable import YTAutoMedia
import YTAutoSupport
import YTAutoTestSupport

/// Near-duplicates of a channel's recent videos (``NearDuplicates``), with real thumbnails.
@Suite struct NearDuplicateTests {
    let dir = TempDir("ytauto-dup")

    func entry(_ job: Int64, _ hook: String, _ body: String, hash: String? = nil) -> ChannelHistory.Entry {
        ChannelHistory.Entry(job: job, at: Date(), topic: "t", script: Script(title: "T\(job)", hook: hook, body: body, cta: "Follow.", channel: .facts),
                             thumbnailHash: hash)
    }

    @Test func theShareOfRepeatedSentencesDecides() {
        let new = ["Honey never spoils.", "Bees seal it with wax!", "Jars in tombs stayed good.", "Follow."]
        let old = entry(4, "HONEY never spoils", "Bees seal it with wax. Something else entirely.")
        // Three of four repeated (case and punctuation aside): 75 %.
        #expect(NearDuplicates.overlap(new, with: ["honey never SPOILS", "Bees seal it with wax.", "Other.", "Follow."]) == 0.75)
        #expect(NearDuplicates.repeatedScript(new, recent: [old], percent: 75)?.entry.job == 4)
        #expect(NearDuplicates.repeatedScript(new, recent: [old], percent: 76) == nil)
        #expect(NearDuplicates.repeatedScript(new, recent: [old], percent: 0) == nil, "0 turns it off")
        #expect(NearDuplicates.repeatedScript(new, recent: [], percent: 1) == nil)
    }

    /// Thumbnails of one channel for different topics are far apart under the default; the same
    /// picture and title again (a video made twice) is within it. Measured on each channel type's
    /// procedural scenes: the nearest pair of different topics is printed for docs/configuration.
    @Test func thumbnailsOfDifferentVideosAreApartAndTheSameOneIsNot() async throws {
        let tools = try ToolRunner()
        let topics = ["why octopuses have three hearts", "how honey never spoils", "the lighthouse that moved inland",
                      "why the sky is blue", "the coldest place on earth", "how bees talk", "the town that vanished overnight",
                      "why compound interest works", "the deepest hole ever dug", "how crows remember faces",
                      "the index fund nobody wanted", "what lives under antarctic ice"]
        let limit = ChannelConfig.defaults(for: .facts).duplicateThumbnailBits
        for type in ChannelType.allCases {
            var channel = ChannelConfig.defaults(for: type)
            channel.format = .long
            var hashes: [String] = []
            for (i, topic) in topics.enumerated() {
                let still = dir.path("\(type)-\(i).png"), thumb = dir.path("\(type)-\(i).jpg")
                _ = try await ProceduralImageGenerator(tools: tools, palette: ChannelStyle.of(type).palette, width: 1280, height: 720)
                    .generate(prompt: "\(topic) — scene 1", outputPath: URL(fileURLWithPath: still))
                _ = try await FFmpegThumbnailGenerator(tools: tools, background: still)
                    .generate(title: PublishedText.title(topic), channel: channel, outputPath: URL(fileURLWithPath: thumb))
                hashes.append(try await NearDuplicates.differenceHash(of: thumb, tools: tools))
            }
            var nearest = 64
            for a in hashes.indices { for b in hashes.indices where a < b { nearest = min(nearest, NearDuplicates.distance(hashes[a], hashes[b]) ?? 0) } }
            print("near-duplicates: \(type) thumbnails of \(topics.count) topics, nearest pair \(nearest) bits apart")
            #expect(nearest > limit, "\(type): two different videos' thumbnails are \(nearest) bits apart")
            // The first one made again: the same hash; the history finds it.
            let again = dir.path("\(type)-again.jpg")
            _ = try await FFmpegThumbnailGenerator(tools: tools, background: dir.path("\(type)-0.png"))
                .generate(title: PublishedText.title(topics[0]), channel: channel, outputPath: URL(fileURLWithPath: again))
            let hash = try await NearDuplicates.differenceHash(of: again, tools: tools)
            let recent = hashes.enumerated().map { entry(Int64($0.offset + 1), "h", "b", hash: $0.element) }
            #expect(NearDuplicates.repeatedThumbnail(hash, recent: recent, bits: limit)?.entry.job == 1)
            #expect(NearDuplicates.repeatedThumbnail(hash, recent: recent, bits: 0) == nil, "0 turns it off")
        }
    }

    /// The thumbnail stage: its own job made again passes (a retried stage is not its own twin);
    /// another job with the same picture and title fails, naming the first; with the check off it passes.
    @Test func theThumbnailStageRefusesAnotherJobsTwinButNotItsOwnRetry() async throws {
        let tools = try ToolRunner()
        var channel = ChannelConfig.defaults(for: .facts)
        channel.durationRange = .init(min: 5, max: 15)
        func pipeline(_ channel: ChannelConfig) -> MediaPipeline {
            MediaPipeline(channels: [channel], workDirectory: dir.url.appending(path: "work"), outputDirectory: dir.url.appending(path: "out"), tools: tools)
        }
        let first = Job.running(41, channel: channel.name, topic: "how honey never spoils")
        for stage in ["script", "narration", "images", "thumbnail", "thumbnail"] {
            _ = try MediaPipelineTests.done(try await pipeline(channel).run(stage: stage, job: first, dryRun: false))
        }
        // Job 42 has job 41's script, scenes and pictures: the same thumbnail.
        let from = dir.url.appending(path: "work/41"), to = dir.url.appending(path: "work/42")
        try FileManager.default.createDirectory(at: to, withIntermediateDirectories: true)
        for name in ["script.json", "scenes.json", "images"] {
            try FileManager.default.copyItem(at: from.appending(path: name), to: to.appending(path: name))
        }
        let twin = Job.running(42, channel: channel.name, topic: "how honey never spoils")
        await #expect {
            try await pipeline(channel).run(stage: "thumbnail", job: twin, dryRun: false)
        } throws: { error in
            let e = error as? NearDuplicateError
            return e?.code == "video.near_duplicate" && e?.message.contains("0 bits of 64 from job 41's") == true
                && e?.message.contains("duplicate_thumbnail_bits") == true
        }
        var lenient = channel
        lenient.duplicateThumbnailBits = 0
        _ = try MediaPipelineTests.done(try await pipeline(lenient).run(stage: "thumbnail", job: twin, dryRun: false))
    }
}
