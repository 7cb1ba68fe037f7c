import Foundation
import Testing
import YTAutoApp
import YTAutoCore
import YTAutoMedia
import YTAutoPostgres
import YTAutoProviders
import YTAutoStore
import YTAutoSupport
import YTAutoTestSupport

/// Providers inside the real pipeline: what a retry does not buy twice, and what the ledger records.
@Suite struct ProviderPipelineTests {
    let dir = TempDir("ytauto-provpipe")

    /// A facts channel narrated by ElevenLabs at `server`, its ledger in a fresh SQLite file, and a running job on it.
    func elevenLabsPipeline(_ server: LoopbackServer, tools: ToolRunner, database: String, job id: Int64) throws -> (MediaPipeline, SQLiteJobStore, Job) {
        var channel = ChannelConfig.defaults(for: .facts)
        channel.durationRange = .init(min: 4, max: 30)
        channel.services.tts = [.elevenlabs]
        var providers = ProvidersConfig()
        providers.elevenlabs.baseURL = server.baseURL
        let store = try SQLiteJobStore(path: dir.path(database))
        let services = ProviderServices(tools: tools, config: providers, credentials: Credentials(values: ["ELEVENLABS_API_KEY": "k-eleven"]),
                                        ledger: store, configDirectory: dir.url)
        let pipeline = MediaPipeline(channels: [channel], workDirectory: dir.url.appending(path: "work"), outputDirectory: dir.url.appending(path: "out"),
                                     tools: tools, services: services, concurrency: 1)
        let job = Job.running(id, channel: "facts", topic: "how honey never spoils")
        return (pipeline, store, job)
    }

    /// The channel's `language` reaches the stock search: a Spanish channel's footage is asked of
    /// Pixabay in Spanish (`lang=es`), so its Spanish words find Spanish-tagged footage.
    @Test func aSpanishChannelsFootageIsSearchedInSpanish() async throws {
        let tools = try ToolRunner()
        let key = "px-pipeline-0123456789abcdef"
        let fake = try FakeStock(key: key)
        let clip = dir.path("src-faro.mp4")
        try await tools.run(.ffmpeg, ToolRunner.ffmpegQuiet + ["-f", "lavfi", "-i", "color=c=0x2050E0:s=1080x1920:r=25:d=2", "-pix_fmt", "yuv420p", clip])
        fake.state.update { s in
            s.files = ["faro.mp4": try! Data(contentsOf: URL(fileURLWithPath: clip))]
            s.catalogue = [.init(id: 301, video: true, tags: ["faro"], author: "Luz", files: [(1080, 1920, "faro.mp4")], seconds: 2, language: "es")]
        }
        var channel = ChannelConfig.defaults(for: .facts)
        channel.format = .short
        channel.language = "es"
        channel.services.images = .pixabay
        var providers = ProvidersConfig()
        providers.pixabay.baseURL = fake.baseURL + "/api"
        let services = ProviderServices(tools: tools, config: providers, credentials: Credentials(values: ["PIXABAY_API_KEY": key]),
                                        ledger: try SQLiteJobStore(path: dir.path("es.db")), configDirectory: dir.url,
                                        stockCache: dir.url.appending(path: "stock"))
        let source = try #require(try services.footageSource(for: channel))
        let assets = try await source.footage(for: [FootageQuery(index: 0, text: "El faro de la costa.", topic: "faros", seconds: 2)], job: 1)
        #expect(assets.first?.credit?.id == "301", "\(assets)")
        #expect(fake.searches.first?.query["lang"] == "es", "\(fake.searches.map(\.query))")
    }

    /// The channel's `language` reaches its media library, offline and with a footage ledger: a
    /// Spanish scene saying `sea como sea` (whatever happens) does not match a clip of the sea.
    @Test func aSpanishChannelsLibraryIsMatchedOnItsSpanishWords() async throws {
        let tools = try ToolRunner()
        for path in ["lib/sea/waves.png", "lib/casa/vieja.png"] {
            let url = dir.url.appending(path: path)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data("x".utf8).write(to: url)
        }
        var channel = ChannelConfig.defaults(for: .horror)
        channel.language = "es"
        channel.services.images = .library
        channel.mediaLibrary = dir.path("lib")
        let withLedger = ProviderServices(tools: tools, config: ProvidersConfig(), credentials: Credentials(values: [:]),
                                          ledger: try SQLiteJobStore(path: dir.path("lib.db")), configDirectory: dir.url,
                                          footageLedger: try SQLiteJobStore(path: dir.path("lib.db")))
        let scene = FootageQuery(index: 0, text: "Sea como sea, nadie volvió.", topic: "la casa", seconds: 2)
        for services in [withLedger as any ServiceFactory, OfflineServices(tools: tools)] {
            let source = try #require(try services.footageSource(for: channel))
            let chosen = try await source.footage(for: [scene], job: 1)
            #expect(chosen.first?.path.hasSuffix("/casa/vieja.png") == true && chosen.first?.matched == ["casa"], "\(type(of: services)): \(chosen)")
        }
    }

    /// A short whose scenes come from Pexels (the loopback fake): a photo for the honey scene, a
    /// clip for the ocean one, both downloaded into the stock cache, recorded in the footage ledger
    /// and credited in the description; the video is made from them.
    @Test func aShortFromPexelsIsMadeFromItsFootageAndCreditsIt() async throws {
        let tools = try ToolRunner()
        let key = "pk-pipeline-0123456789abcdef"
        let fake = try FakeStock(key: key)
        let q = ToolRunner.ffmpegQuiet
        let clip = dir.path("src-ocean.mp4"), photo = dir.path("src-honey.jpg")
        try await tools.run(.ffmpeg, q + ["-f", "lavfi", "-i", "color=c=0x2050E0:s=1080x1920:r=25:d=3", "-pix_fmt", "yuv420p", clip])
        try await tools.run(.ffmpeg, q + ["-f", "lavfi", "-i", "color=c=0xF0A020:s=1280x1920", "-frames:v", "1", photo])
        fake.state.update { s in
            s.files = ["ocean.mp4": try! Data(contentsOf: URL(fileURLWithPath: clip)), "honey.jpg": try! Data(contentsOf: URL(fileURLWithPath: photo))]
            s.catalogue = [
                .init(id: 104, video: true, tags: ["ocean", "waves"], author: "Dee", files: [(1080, 1920, "ocean.mp4")], seconds: 3),
                .init(id: 201, video: false, tags: ["honey", "tombs"], author: "Eve", files: [(1280, 1920, "honey.jpg")]),
            ]
        }
        var channel = ChannelConfig.defaults(for: .facts)
        channel.format = .short
        channel.durationRange = .init(min: 5, max: 30)
        channel.services.images = .pexels
        var providers = ProvidersConfig()
        providers.pexels.baseURL = fake.baseURL
        let store = try SQLiteJobStore(path: dir.path("stock.db"))
        let services = ProviderServices(tools: tools, config: providers, credentials: Credentials(values: ["PEXELS_API_KEY": key]),
                                        ledger: store, configDirectory: dir.url, footageLedger: store, stockCache: dir.url.appending(path: "stock"))
        let pipeline = MediaPipeline(channels: [channel], workDirectory: dir.url.appending(path: "work"), outputDirectory: dir.url.appending(path: "out"),
                                     tools: tools, services: services)
        let sentences = [
            "Honey found in ancient tombs was still good to eat.", "Jars of honey sealed in tombs kept for ages.",
            "Far away, ocean waves roll over the sand.", "The ocean keeps its waves moving forever.", "Follow for more.",
        ]
        let script: [String: Any] = [
            // The writer's visual searches, one a sentence (as an LLM is asked for them).
            "script": ["title": "T", "hook": sentences[0], "body": sentences[1...3].joined(separator: " "), "cta": sentences[4], "channel": "facts",
                       "visuals": ["Honey jar", "honey tombs", "ocean waves", "ocean sunset", "phone screen"]],
            "sentences": sentences, "wordsPerSecond": 2.5, "topic": "how honey never spoils", "hookSentences": 1, "bodySentences": 3,
        ]
        let folder = dir.url.appending(path: "work/31")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try JSONSerialization.data(withJSONObject: script).write(to: folder.appending(path: "script.json"))
        let job = Job.running(31, channel: "facts", topic: "how honey never spoils")
        for stage in ["narration", "images", "clips", "compose"] {
            let outcome = try await pipeline.run(stage: stage, job: job, dryRun: false)
            guard case .done = outcome else { Issue.record("\(stage) ended \(outcome)"); return }
        }
        let media = try JSONDecoder().decode([FootageAsset].self, from: Data(contentsOf: folder.appending(path: "media.json")))
        try #require(media.count == 2, "\(media)")
        // The honey scene found no video, so the photo; the ocean scene's words (the call to action's are left out) found the clip.
        #expect(media.map { $0.credit?.id } == ["201", "104"] && media.map(\.kind) == [.image, .clip])
        #expect(media.allSatisfy { $0.path.hasPrefix(dir.url.appending(path: "stock/pexels").path) })
        // Each scene was searched first with the visual of its first sentence.
        #expect(fake.searches.first?.query["query"] == "honey jar" && media.map(\.matched) == [["honey", "jar"], ["ocean", "waves"]])
        #expect(try await store.footageUsed(channel: "facts", days: 30, excludingJob: 0) == ["pexels:image:201", "pexels:clip:104"])
        #expect(try await store.ledger(since: "2000-01-01").first { $0.provider == "pexels" && $0.unit == "requests" }?.amount
                == Int64(fake.searches.count))

        // The video shows the photo's orange first and the clip's blue at the end.
        let video = folder.appending(path: "video.mp4").path
        let duration = try await tools.duration(of: video)
        func colour(at t: Double) async throws -> [UInt8] {
            let png = dir.path("frame-\(t).png")
            try await tools.run(.ffmpeg, q + ["-ss", String(format: "%.2f", t), "-i", video, "-frames:v", "1", "-vf", "crop=64:64:0:0", "-update", "1", png])
            let raw = dir.path("frame-\(t).rgb")
            try await tools.run(.ffmpeg, q + ["-i", png, "-vf", "scale=1:1", "-f", "rawvideo", "-pix_fmt", "rgb24", raw])
            return [UInt8](try Data(contentsOf: URL(fileURLWithPath: raw)))
        }
        let first = try await colour(at: 0.5), last = try await colour(at: duration - 0.5)
        #expect(first[0] > 180 && first[2] < 90, "orange at the start: \(first)")
        #expect(last[2] > 150 && last[0] < 90, "blue at the end: \(last)")
        if let out = ProcessInfo.processInfo.environment["YTAUTO_STOCK_FRAME"] {
            try await tools.run(.ffmpeg, q + ["-ss", String(format: "%.2f", duration * 0.3), "-i", video, "-frames:v", "1", "-vf", "scale=540:-2", "-update", "1", out])
        }

        let meta = try MediaPipeline.metadata(scriptFile: folder.appending(path: "script.json"), channel: channel)
        #expect(meta.description.hasSuffix("""
            Footage:
            Photo by Eve on Pexels: https://www.pexels.com/photo/honey-201/
            Video by Dee on Pexels: https://www.pexels.com/video/ocean-104/
            Footage provided by Pexels (https://www.pexels.com).
            """), "\(meta.description)")
    }

    @Test func a429MidNarrationDoesNotBuyTheFinishedSentencesAgain() async throws {
        let tools = try ToolRunner()
        let mp3 = dir.path("tone.mp3")
        try await tools.run(.ffmpeg, ToolRunner.ffmpegQuiet + ["-f", "lavfi", "-i", "sine=f=300:d=0.8", "-c:a", "libmp3lame", mp3])
        let audio = try Data(contentsOf: URL(fileURLWithPath: mp3))
        struct Log: Sendable { var served: [String] = []; var refused = 0; var failAfter = 2 }
        let log = Locked(Log())
        let server = try LoopbackServer { req in
            guard req.path.hasPrefix("/v1/text-to-speech/"), req.path.hasSuffix("/with-timestamps"), req.header("xi-api-key") == "k-eleven" else {
                return .json(401, ["detail": ["status": "invalid_api_key", "message": "Invalid API key"]])
            }
            let text = req.json?["text"] as? String ?? ""
            let allowed = log.update { l -> Bool in
                if l.served.count >= l.failAfter { l.refused += 1; return false }
                l.served.append(text)
                return true
            }
            guard allowed else {
                return .json(429, ["detail": ["status": "too_many_concurrent_requests", "message": "Too many concurrent requests."]],
                             headers: [("Retry-After", "1")])
            }
            return FakeElevenLabs.reply(audio: audio, text: text, spoken: 0.05...0.75)
        }
        let (pipeline, store, job) = try elevenLabsPipeline(server, tools: tools, database: "p.db", job: 3)
        _ = try await pipeline.run(stage: "script", job: job, dryRun: false)
        await #expect {
            try await pipeline.run(stage: "narration", job: job, dryRun: false)
        } throws: { error in
            (error as? ProviderError)?.code == "tts.rate_limited" && (error as? ProviderError)?.isRetryable == true
        }
        let firstRun = log.value.served
        #expect(log.value.refused == 1, "the first run stops at the first 429")
        // The characters bought before the 429 are in the ledger when the stage returns (recorded awaited, not later).
        let boughtFirst = try await store.ledger(since: "2000-01-01").first { $0.provider == "elevenlabs" && $0.unit == "characters" }?.amount
        #expect(boughtFirst == Int64(firstRun.reduce(0) { $0 + $1.count }))
        // The retry: the provider answers again; the sentences already spoken are not asked for twice.
        log.update { $0.failAfter = .max }
        let outcome = try await pipeline.run(stage: "narration", job: job, dryRun: false)
        let done = { if case .done = outcome { return true } else { return false } }()
        try #require(done, "narration ended \(outcome)")
        let served = log.value.served
        #expect(Set(served).count == served.count, "a sentence was bought twice: \(served)")
        let segments = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: dir.url.appending(path: "work/3/narration.json"))) as? [[String: Any]])
        let spoken = segments.compactMap { $0["text"] as? String }
        // ElevenLabs' alignment gives each sentence's words, exact, at their places in the whole
        // narration: the first where its sentence starts plus the 0.05 s the fake puts before it.
        #expect(segments.allSatisfy { $0["wordTiming"] as? String == "exact" })
        for segment in segments {
            let first = try #require((segment["words"] as? [[String: Any]])?.first)
            let start = try #require(segment["start"] as? Double), at = try #require(first["start"] as? Double)
            #expect(abs(at - (start + 0.05)) < 1e-6, "\(segment["text"] ?? "") starts at \(start), its first word at \(at)")
        }
        // The 429 came mid-narration: some sentences were spoken before it, some after.
        #expect(firstRun.count > 0 && firstRun.count < spoken.count, "first run \(firstRun.count) of \(spoken.count) sentences")
        // Every sentence of the narration was bought exactly once, across both runs.
        #expect(served.count == spoken.count && Set(served) == Set(spoken))
        // The characters bought are in the ledger, once each, as soon as the stage is done.
        let rows = try await store.ledger(since: "2000-01-01")
        #expect(rows.first { $0.provider == "elevenlabs" && $0.unit == "characters" }?.amount == Int64(served.reduce(0) { $0 + $1.count }))
        withExtendedLifetime(server) {}
    }

    /// A ledger write that fails is told (provider, channel, unit, amount, why), not lost; the
    /// script the provider was paid for is kept, so a retry does not buy it again.
    /// An engine that gives no word times (here ElevenLabs' reply without an alignment): the words
    /// are fitted to each sentence's speech as measured, not to its silence, and recorded as estimated.
    @Test func wordsWithoutTheEnginesTimesAreFittedToTheSpeech() async throws {
        let tools = try ToolRunner()
        let mp3 = dir.path("quiet-start.mp3")
        // 0.4 s of silence, then 0.8 s of sound.
        try await tools.run(.ffmpeg, ToolRunner.ffmpegQuiet + [
            "-f", "lavfi", "-i", "anullsrc=r=44100:cl=mono:d=0.4", "-f", "lavfi", "-i", "sine=f=300:r=44100:d=0.8",
            "-filter_complex", "[0][1]concat=n=2:v=0:a=1", "-c:a", "libmp3lame", mp3,
        ])
        let audio = try Data(contentsOf: URL(fileURLWithPath: mp3))
        let server = try LoopbackServer { _ in .json(200, ["audio_base64": audio.base64EncodedString(), "alignment": NSNull()]) }
        let (pipeline, _, job) = try elevenLabsPipeline(server, tools: tools, database: "e.db", job: 5)
        _ = try await pipeline.run(stage: "script", job: job, dryRun: false)
        _ = try await pipeline.run(stage: "narration", job: job, dryRun: false)
        let segments = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: dir.url.appending(path: "work/5/narration.json"))) as? [[String: Any]])
        #expect(!segments.isEmpty && segments.allSatisfy { $0["wordTiming"] as? String == "estimated" })
        for segment in segments {
            let words = try #require(segment["words"] as? [[String: Any]])
            let start = try #require(segment["start"] as? Double)
            let first = try #require(words.first?["start"] as? Double), last = try #require(words.last?["end"] as? Double)
            // The first word where the sound starts (0.4 s in, within 50 ms), the last where it ends.
            #expect(abs(first - start - 0.4) < 0.05, "\(segment["text"] ?? ""): sentence at \(start), first word at \(first)")
            #expect(abs(last - start - 1.2) < 0.08, "\(segment["text"] ?? ""): sentence at \(start), last word ends at \(last)")
        }
        withExtendedLifetime(server) {}
    }

    @Test func aFailingLedgerWriteIsNotSilent() async throws {
        let server = try LoopbackServer { _ in
            Self.chat(Self.script)
        }
        defer { withExtendedLifetime(server) {} }
        let path = dir.path("ledger.db")
        let store = try SQLiteJobStore(path: path)
        var providers = ProvidersConfig()
        providers.openai.baseURL = server.baseURL + "/v1"
        var channel = ChannelConfig.defaults(for: .facts)
        channel.durationRange = .init(min: 10, max: 40)
        channel.services.script = .openai
        let told = Locked<[String]>([])
        let services = ProviderServices(tools: try ToolRunner(), config: providers, credentials: Credentials(values: ["OPENAI_API_KEY": "sk-ledger-test-0123456789"]),
                                        ledger: store, configDirectory: dir.url, onLedgerFailure: { what, _ in told.update { $0.append(what) } })
        // A healthy ledger: recorded by the time the script is back, nothing told.
        _ = try await services.scriptGenerator(for: channel, wordsPerSecond: 2.5, seed: "s", recent: []).generate(topic: "honey", channel: channel)
        #expect(try await store.ledger(since: "2000-01-01").first { $0.provider == "openai" }?.amount == 321)
        #expect(told.value.isEmpty)
        // The ledger's table is gone (a real SQLite error from the real store): the write fails.
        try await store.database.write { try $0.execute("DROP TABLE quota_ledger") }
        let script = try await services.scriptGenerator(for: channel, wordsPerSecond: 2.5, seed: "s", recent: []).generate(topic: "honey", channel: channel)
        #expect(script.title == "Why Honey Never Spoils")
        #expect(told.value.count == 1, "\(told.value)")
        let message = try #require(told.value.first)
        #expect(message.contains("321 tokens of openai for channel \(channel.name)") && message.contains("quota_ledger"), "\(message)")
        #expect(!message.contains("sk-ledger-test"))
    }

    /// A loopback OpenAI that writes the same script (``script``) whatever it is asked, and a facts
    /// channel whose scripts it writes.
    ///
    /// - Parameter inPairs: each answer waits (up to 10 s) until a second request has come, so two
    ///   jobs get their scripts at the same moment.
    func repeatingLLM(inPairs: Bool = false) throws -> (server: LoopbackServer, providers: ProvidersConfig, channel: ChannelConfig) {
        let asked = Locked(0)
        let server = try LoopbackServer { _ in
            if inPairs {
                let n = asked.update { $0 += 1; return $0 }
                let until = Date().addingTimeInterval(10)
                while asked.value < (n + 1) / 2 * 2, Date() < until { try? await Task.sleep(for: .milliseconds(2)) }
            }
            return Self.chat(Self.script)
        }
        var providers = ProvidersConfig()
        providers.openai.baseURL = server.baseURL + "/v1"
        var channel = ChannelConfig.defaults(for: .facts)
        channel.durationRange = .init(min: 10, max: 40)
        channel.services.script = .openai
        return (server, providers, channel)
    }

    /// An LLM that writes the same script for two jobs of a channel: the second fails its script
    /// stage `video.near_duplicate`, naming the first job, before anything is narrated; with the
    /// check off it passes; the first job's own stage run again passes.
    @Test func aScriptThatRepeatsARecentOneIsANearDuplicate() async throws {
        let (server, providers, channel) = try repeatingLLM()
        defer { withExtendedLifetime(server) {} }
        let tools = try ToolRunner()
        let store = try SQLiteJobStore(path: dir.path("dup.db"))
        func pipeline(_ channel: ChannelConfig) -> MediaPipeline {
            let services = ProviderServices(tools: tools, config: providers, credentials: Credentials(values: ["OPENAI_API_KEY": "sk-dup-0123456789"]),
                                            ledger: store, configDirectory: dir.url)
            return MediaPipeline(channels: [channel], workDirectory: dir.url.appending(path: "work"), outputDirectory: dir.url.appending(path: "out"),
                                 tools: tools, services: services)
        }
        func job(_ id: Int64) -> Job { Job.running(id, channel: channel.name, topic: "why honey never spoils") }
        _ = try await pipeline(channel).run(stage: "script", job: job(1), dryRun: false)
        _ = try await pipeline(channel).run(stage: "script", job: job(1), dryRun: false)  // its own stage again: not compared with itself
        await #expect {
            try await pipeline(channel).run(stage: "script", job: job(2), dryRun: false)
        } throws: { error in
            let e = error as? NearDuplicateError
            return e?.code == "video.near_duplicate" && e?.isRetryable == false
                && e?.message.contains("repeats 100 % of its sentences from job 1's") == true && e?.message.contains("duplicate_sentences_percent") == true
        }
        #expect(!FileManager.default.fileExists(atPath: dir.path("work/2/script.json")))
        var lenient = channel
        lenient.duplicateSentencesPercent = 0
        _ = try await pipeline(lenient).run(stage: "script", job: job(3), dryRun: false)
        #expect(FileManager.default.fileExists(atPath: dir.path("work/3/script.json")))
    }

    /// An LLM that decorates its script with emoji: they are dropped from what is narrated and
    /// captioned (the font has no glyph for them; the compose stage's check failed the video after
    /// narration, scenes and clips had been paid for), and the title keeps them for YouTube. An LLM
    /// that writes in a script the channel's font cannot draw stops the job at its script stage.
    @Test func anLLMsEmojiAreLeftOutOfTheNarrationAndOtherScriptsStopTheScriptStage() async throws {
        let answer = Locked(Self.script)
        let server = try LoopbackServer { _ in Self.chat(answer.value) }
        defer { withExtendedLifetime(server) {} }
        var providers = ProvidersConfig()
        providers.openai.baseURL = server.baseURL + "/v1"
        var channel = ChannelConfig.defaults(for: .facts)
        channel.durationRange = .init(min: 10, max: 40)
        channel.services.script = .openai
        channel.duplicateSentencesPercent = 0
        let tools = try ToolRunner()
        let store = try SQLiteJobStore(path: dir.path("emoji.db"))
        let services = ProviderServices(tools: tools, config: providers, credentials: Credentials(values: ["OPENAI_API_KEY": "sk-emoji-0123456789"]),
                                        ledger: store, configDirectory: dir.url)
        let pipeline = MediaPipeline(channels: [channel], workDirectory: dir.url.appending(path: "work"), outputDirectory: dir.url.appending(path: "out"),
                                     tools: tools, services: services)
        func script(_ object: [String: String]) -> String {
            String(decoding: try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self)
        }
        let body = Array(repeating: "Honey stored in sealed jars can last for centuries \u{1F36F}.", count: 6).joined(separator: " ")
        answer.value = script(["title": "Why Honey Never Spoils \u{1F41D}", "hook": "\u{1F92F} Archaeologists once found honey that was still edible!",
                               "body": body, "cta": "Follow for more facts like this \u{1F447}\u{1F3FD}"])
        _ = try await pipeline.run(stage: "script", job: Job.running(1, channel: channel.name, topic: "why honey never spoils"), dryRun: false)
        let written = try String(contentsOfFile: dir.path("work/1/script.json"), encoding: .utf8)
        let file = try JSONSerialization.jsonObject(with: Data(written.utf8)) as? [String: Any]
        let sentences = try #require(file?["sentences"] as? [String])
        #expect(sentences.first == "Archaeologists once found honey that was still edible!", "\(sentences)")
        #expect(sentences.last == "Follow for more facts like this", "\(sentences)")
        #expect(sentences.allSatisfy { !$0.unicodeScalars.contains { $0.properties.isEmojiPresentation } }, "\(sentences)")
        #expect(((file?["script"] as? [String: Any])?["title"] as? String)?.hasSuffix("\u{1F41D}") == true, "the title keeps its emoji for YouTube")
        // The thumbnail draws that title without its emoji (the font has no glyph for them: the
        // stage refused the title, after the narration and scenes had been made).
        let first = Job.running(1, channel: channel.name, topic: "why honey never spoils")
        for stage in ["narration", "images"] { _ = try await pipeline.run(stage: stage, job: first, dryRun: false) }
        let thumbnail = try await pipeline.run(stage: "thumbnail", job: first, dryRun: false)
        guard case .done(let drawn) = thumbnail else { Issue.record("no thumbnail: \(thumbnail)"); return }
        #expect(drawn.first.map { $0.path.hasSuffix("thumbnail.jpg") && $0.bytes > 10_000 } == true, "\(drawn)")

        answer.value = script(["title": "Why Honey Never Spoils", "hook": "はちみつは くさりません。", "body": body, "cta": "Follow for more."])
        await #expect {
            try await pipeline.run(stage: "script", job: Job.running(2, channel: channel.name, topic: "why honey never spoils"), dryRun: false)
        } throws: { error in
            let e = error as? QualityGateError
            return e?.code == "video.qa_failed" && e?.isRetryable == false && e?.message.contains("'は' (U+306F)") == true
                && e?.message.contains("of the script") == true
        }
        #expect(!FileManager.default.fileExists(atPath: dir.path("work/2/script.json")))
    }

    /// Two hosts (each its own work folder) on one store, SQLite's or PostgreSQL's: a script the
    /// second host's LLM writes again is a near duplicate of the first host's job, as on one host.
    /// Two hosts (each its own work folder) on one store of `engine`, and the repeating LLM.
    func twoHosts(_ engine: String, inPairs: Bool = false) async throws
        -> (server: LoopbackServer, store: any OperatorStore, host: (String) -> MediaPipeline, job: (Int64) -> Job) {
        let (server, providers, channel) = try repeatingLLM(inPairs: inPairs)
        let tools = try ToolRunner()
        let store: any OperatorStore = engine == "sqlite" ? try SQLiteJobStore(path: dir.path("hosts.db"))
            : try await PostgresJobStore(url: try PostgresURL(try await PostgresServer.server().createDatabase()))
        let dir = self.dir
        func host(_ name: String) -> MediaPipeline {
            let services = ProviderServices(tools: tools, config: providers, credentials: Credentials(values: ["OPENAI_API_KEY": "sk-hosts-0123456789"]),
                                            ledger: store, configDirectory: dir.url)
            return MediaPipeline(channels: [channel], workDirectory: dir.url.appending(path: "\(name)/work"), outputDirectory: dir.url.appending(path: "\(name)/out"),
                                 tools: tools, services: services, history: store)
        }
        return (server, store, host, { Job.running($0, channel: channel.name, topic: "why honey never spoils") })
    }

    @Test(arguments: PostgresServer.available ? ["sqlite", "postgres"] : ["sqlite"]) func aNearDuplicateMadeOnAnotherHostIsStopped(engine: String) async throws {
        let (server, store, host, job) = try await twoHosts(engine)
        defer { withExtendedLifetime(server) {} }
        _ = try await host("a").run(stage: "script", job: job(1), dryRun: false)
        await #expect {
            try await host("b").run(stage: "script", job: job(2), dryRun: false)
        } throws: { error in
            (error as? NearDuplicateError)?.message.contains("repeats 100 % of its sentences from job 1's") == true
        }
        #expect(try await store.channelHistory(channel: job(1).channel, limit: 5).map(\.jobID) == [1])
    }

    /// Two hosts get the same script at the same moment (the LLM answers both together) and check
    /// it at once: one is stopped as the other's near duplicate, never both passed, and the history
    /// keeps the one that passed. (Checked before recording, outside the history's lock, both passed.)
    @Test(arguments: PostgresServer.available ? ["sqlite", "postgres"] : ["sqlite"]) func twoHostsWritingTheSameScriptAtOnceStopOne(engine: String) async throws {
        let (server, store, host, job) = try await twoHosts(engine, inPairs: true)
        defer { withExtendedLifetime(server) {} }
        let a = host("a"), b = host("b"), one = job(1), two = job(2)
        func failure(_ body: () async throws -> Void) async -> (any Error)? {
            do { try await body(); return nil } catch { return error }
        }
        async let first = failure { _ = try await a.run(stage: "script", job: one, dryRun: false) }
        async let second = failure { _ = try await b.run(stage: "script", job: two, dryRun: false) }
        let outcomes: [(job: Int64, failure: (any Error)?)] = [(1, await first), (2, await second)]
        let passed = outcomes.filter { $0.failure == nil }.map(\.job)
        #expect(passed.count == 1, "exactly one passes: \(outcomes.map { ($0.job, $0.failure.map { "\($0)" } ?? "passed") })")
        if let winner = passed.first, let loser = outcomes.first(where: { $0.job != winner }) {
            let message = (loser.failure as? NearDuplicateError)?.message ?? "\(String(describing: loser.failure))"
            #expect(message.contains("from job \(winner)'s"), "\(message)")
            #expect(try await store.channelHistory(channel: one.channel, limit: 5).map(\.jobID) == [winner])
        }
    }

    /// Shorts in Spanish and Japanese, written by an LLM (the loopback OpenAI), spoken by espeak-ng's
    /// voice for the language, captioned in a font that has its glyphs: each passes the QA gate.
    /// Japanese captions drawn in the Latin font fail it, naming the characters.
    @Test func shortsInSpanishAndJapanesePassTheGateInFontsThatDrawThem() async throws {
        let tools = try ToolRunner()
        let spanish: [String: Any] = [
            "title": "Por qué la miel nunca se echa a perder", "hook": "¿Sabías que la miel puede durar miles de años?",
            "body": "En tumbas antiguas de Egipto se encontró miel que todavía se podía comer. Las abejas la sellan con cera y le quitan el agua.",
            "cta": "Síguenos para más datos.", "visuals": ["honey jar", "ancient tomb", "bees wax", "phone"],
        ]
        let japanese: [String: Any] = [
            "title": "はちみつが くさらない りゆう", "hook": "はちみつは せんねん たっても たべられます。",
            "body": "むかしの おはかで みつかった はちみつも まだ たべられました。みつばちは みずを とばして ろうで ふたを します。",
            "cta": "フォローして ください。", "visuals": ["honey jar", "ancient tomb", "bees", "phone"],
        ]
        var prompts: [String: String] = [:]
        for (language, script) in [("es", spanish), ("ja", japanese)] {
            let asked = Locked<[String]>([])
            let content = String(decoding: try JSONSerialization.data(withJSONObject: script), as: UTF8.self)
            let server = try LoopbackServer { req in
                if let messages = req.json?["messages"] as? [[String: String]] { asked.update { $0.append(messages.last?["content"] ?? "") } }
                return Self.chat(content)
            }
            var providers = ProvidersConfig()
            providers.openai.baseURL = server.baseURL + "/v1"
            var channel = ChannelConfig.defaults(for: .facts)
            channel.name = "facts-\(language)"
            channel.format = .short
            channel.durationRange = .init(min: 5, max: 40)
            channel.services.script = .openai
            channel.language = language
            let store = try SQLiteJobStore(path: dir.path("\(language).db"))
            let services = ProviderServices(tools: tools, config: providers, credentials: Credentials(values: ["OPENAI_API_KEY": "sk-lang-0123456789"]),
                                            ledger: store, configDirectory: dir.url)
            let pipeline = MediaPipeline(channels: [channel], workDirectory: dir.url.appending(path: "work-\(language)"),
                                         outputDirectory: dir.url.appending(path: "out"), tools: tools, services: services)
            let job = Job.running(51, channel: channel.name, topic: "why honey never spoils")
            for stage in ["script", "narration", "images", "clips", "compose", "thumbnail"] {
                let outcome = try await pipeline.run(stage: stage, job: job, dryRun: false)
                guard case .done = outcome else { Issue.record("\(language) \(stage) ended \(outcome)"); return }
            }
            prompts[language] = asked.value.first
            let folder = dir.url.appending(path: "work-\(language)/51")
            // Published in the language's own ways: the writer's casing (English title case would make
            // "Por Qué La Miel…"), the genre's hashtag and tag in the language, never the channel's name.
            let meta = try MediaPipeline.metadata(scriptFile: folder.appending(path: "script.json"), channel: channel)
            #expect(meta.title == script["title"] as? String, "\(language): \(meta.title)")
            let genre = language == "ja" ? "雑学" : "datos curiosos"
            #expect(meta.tags == ["why honey never spoils", genre, "shorts"], "\(language): \(meta.tags)")
            #expect(meta.description.hasSuffix("#shorts #\(genre.replacingOccurrences(of: " ", with: "")) #WhyHoneyNeverSpoils"), "\(language): \(meta.description)")
            let qa = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: folder.appending(path: "qa.json"))) as? [String: Any])
            #expect((qa["worstCaptionOffsetMS"] as? Double ?? 999) <= 100, "\(language): \(qa)")
            let captions = try String(contentsOf: folder.appending(path: "captions.ass"), encoding: .utf8)
            #expect(captions.contains(language == "ja" ? "IPAGothic" : "DejaVu Sans"), "\(language): the caption style's font")
            #expect(captions.contains(language == "ja" ? "みつばち" : "abejas"))
            if let out = ProcessInfo.processInfo.environment["YTAUTO_LANGUAGE_FRAMES"] {
                let video = folder.appending(path: "video.mp4").path
                let at = try await tools.duration(of: video) * 0.45
                try await tools.run(.ffmpeg, ToolRunner.ffmpegQuiet + ["-ss", String(format: "%.2f", at), "-i", video, "-frames:v", "1",
                                                                       "-vf", "scale=540:-2", "-update", "1", "\(out)/\(language)-short-frame.jpg"])
            }
            if language == "ja" {
                // The same captions in the Latin font: the gate names the characters it cannot draw.
                var latin = channel
                latin.language = "es"
                let latinPipeline = MediaPipeline(channels: [latin], workDirectory: dir.url.appending(path: "work-ja"),
                                                  outputDirectory: dir.url.appending(path: "out"), tools: tools, services: services)
                await #expect {
                    _ = try await latinPipeline.run(stage: "compose", job: job, dryRun: false)
                } throws: { error in
                    let e = error as? QualityGateError
                    return e?.code == "video.qa_failed" && e?.message.contains("has no glyph for 'は' (U+306F)") == true
                }
                // And the title on the thumbnail.
                await #expect {
                    _ = try await latinPipeline.run(stage: "thumbnail", job: job, dryRun: false)
                } throws: { error in
                    let e = error as? QualityGateError
                    return e?.message.contains("the thumbnail's font") == true && e?.message.contains("'く' (U+304F)") == true
                        && e?.message.contains("of the title") == true
                }
            }
            withExtendedLifetime(server) {}
        }
        #expect(prompts["es"]?.contains("in Spanish (es)") == true && prompts["es"]?.contains("hiragana") == false)
        #expect(prompts["ja"]?.contains("in Japanese (ja)") == true && prompts["ja"]?.contains("hiragana and katakana only") == true
                && prompts["ja"]?.contains("characters in total") == true)
    }

    /// An OpenAI chat completion answering `content`, 321 tokens.
    static func chat(_ content: String) -> LoopbackReply {
        .json(200, [
            "id": "chatcmpl-1", "object": "chat.completion", "created": 1_741_569_952, "model": "gpt-4o-mini-2024-07-18",
            "choices": [["index": 0, "finish_reason": "stop", "message": ["role": "assistant", "content": content, "refusal": NSNull()]]],
            "usage": ["prompt_tokens": 200, "completion_tokens": 121, "total_tokens": 321],
        ])
    }

    static let script: String = {
        let body = Array(repeating: "Honey stored in sealed jars can last for centuries.", count: 6).joined(separator: " ")
        let object: [String: Any] = ["title": "Why Honey Never Spoils", "hook": "Archaeologists once found honey that was still edible.",
                                     "body": body, "cta": "Follow for more facts like this."]
        return String(decoding: try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self)
    }()
}
