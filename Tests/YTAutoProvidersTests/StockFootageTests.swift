import Foundation
import Testing
import YTAutoCore
@testable import YTAutoProviders
import YTAutoStore
import YTAutoSupport
import YTAutoTestSupport

/// Pexels and Pixabay footage against a loopback server that speaks their documented APIs
/// (``FakeStock``), with real clips and pictures made by ffmpeg and the footage ledger in a
/// real SQLite file.
@Suite struct StockFootageTests {
    static let key = "pk-test-stock-5f4e3d2c1b0a9988"
    let dir = TempDir("ytauto-stock")
    let tools: ToolRunner

    init() throws { tools = try ToolRunner() }

    /// A 2 s clip or a picture of `width`×`height`, as bytes.
    func media(_ name: String, width: Int, height: Int, video: Bool) async throws -> Data {
        let path = dir.path("src-\(name)")
        let input = video ? ["-f", "lavfi", "-i", "testsrc2=s=\(width)x\(height):r=10:d=2", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]
                          : ["-f", "lavfi", "-i", "color=c=orange:s=\(width)x\(height)", "-frames:v", "1"]
        try await tools.run(.ffmpeg, ToolRunner.ffmpegQuiet + input + [path])
        return try Data(contentsOf: URL(fileURLWithPath: path))
    }

    /// A catalogue: two portrait lighthouse clips (the first too short for a 5 s scene), a
    /// landscape one, an ocean clip, and a honey photo; each clip has a small and a full rendition.
    func stocked(_ fake: FakeStock) async throws {
        let tall = try await media("tall.mp4", width: 1080, height: 1920, video: true)
        let tallSmall = try await media("tall-small.mp4", width: 360, height: 640, video: true)
        let wide = try await media("wide.mp4", width: 1920, height: 1080, video: true)
        let photo = try await media("honey.jpg", width: 1280, height: 853, video: false)
        fake.state.update { s in
            s.files = ["tall.mp4": tall, "tall-small.mp4": tallSmall, "wide.mp4": wide, "honey.jpg": photo]
            s.catalogue = [
                .init(id: 101, video: true, tags: ["lighthouse", "sea"], author: "Ana", files: [(360, 640, "tall-small.mp4"), (1080, 1920, "tall.mp4")], seconds: 3),
                .init(id: 102, video: true, tags: ["lighthouse", "coast"], author: "Ben", files: [(1920, 1080, "wide.mp4")], seconds: 20),
                .init(id: 103, video: true, tags: ["lighthouse", "storm"], author: "Cai", files: [(360, 640, "tall-small.mp4"), (1080, 1920, "tall.mp4")], seconds: 12),
                .init(id: 104, video: true, tags: ["ocean", "waves"], author: "Dee", files: [(1080, 1920, "tall.mp4")], seconds: 30),
                .init(id: 201, video: false, tags: ["honey", "jar"], author: "Eve", files: [(1280, 853, "honey.jpg")]),
            ]
        }
    }

    func scene(_ i: Int, _ text: String, seconds: Double = 5) -> FootageQuery {
        FootageQuery(index: i, text: text, topic: "why lighthouses still matter", seconds: seconds)
    }

    func source(_ search: any StockSearch, ledger: (any FootageLedger)?, cache: String = "cache", reuseDays: Int = 30,
                language: String = "en", clock: @escaping @Sendable () -> Date = Date.init) -> StockFootageSource {
        StockFootageSource(search: search, cache: dir.url.appending(path: cache), channel: "facts", language: language, reuseDays: reuseDays,
                           ledger: ledger, width: 1080, height: 1920, tools: tools, clock: clock)
    }

    func pexels(_ fake: FakeStock, usage: Locked<[String]>? = nil, clock: @escaping @Sendable () -> Date = Date.init) -> PexelsSearch {
        PexelsSearch(baseURL: fake.baseURL, apiKey: Self.key, usage: recorder(usage), clock: clock)
    }

    func pixabay(_ fake: FakeStock, clock: @escaping @Sendable () -> Date = Date.init) -> PixabaySearch {
        PixabaySearch(baseURL: fake.baseURL + "/api", apiKey: Self.key, clock: clock)
    }

    // MARK: - Choosing and downloading

    @Test func pexelsGivesEachSceneAnUnusedClipThatCoversTheFormatAndCreditsIt() async throws {
        let fake = try FakeStock(key: Self.key)
        try await stocked(fake)
        let store = try SQLiteJobStore(path: dir.path("q.db"))
        let usage = Locked<[String]>([])
        let scenes = [scene(0, "The old lighthouse keeper climbed the stairs."), scene(1, "Another lighthouse warned the ships."),
                      scene(2, "Waves hit the ocean rocks."), scene(3, "Honey sat in a jar.")]
        let assets = try await source(pexels(fake, usage: usage), ledger: store).footage(for: scenes, job: 7)

        // Portrait first (the format's), then a clip that lasts the scene: 103 (12 s) before 101 (3 s); 102 is landscape.
        #expect(assets.map { $0.credit?.id } == ["103", "101", "104", "201"])
        #expect(assets.map(\.kind) == [.clip, .clip, .clip, .image])
        #expect(assets[0].credit == FootageCredit(provider: "Pexels", id: "103", author: "Cai", authorURL: "https://www.pexels.com/@cai",
                                                   page: "https://www.pexels.com/video/lighthouse-103/", licence: PexelsSearch.licence))
        #expect(assets[0].seconds == 12 && assets[0].source == "pexels" && assets[0].matched == ["lighthouse", "keeper", "climbed"])
        // The rendition that covers 1080×1920 (not the 360×640 one, not the HLS entry), downloaded and readable.
        let probe = try await tools.probe(assets[0].path)
        let stream = try #require((probe["streams"] as? [[String: Any]])?.first)
        #expect(stream["width"] as? Int == 1080 && stream["height"] as? Int == 1920)
        // The honey scene had no video: the photo search answered.
        let photoSearch = try #require(fake.searches.first { $0.path == "/v1/search" })
        #expect(photoSearch.query["query"] == "honey sat jar")

        // The wire: the raw key as the whole Authorization header, the format's orientation.
        let first = try #require(fake.searches.first)
        #expect(first.path == "/v1/videos/search" && first.header("Authorization") == Self.key)
        #expect(first.query["query"] == "lighthouse keeper climbed" && first.query["orientation"] == "portrait")
        #expect(first.query["per_page"] == "15" && first.query["size"] == "medium")
        #expect(usage.value.count == fake.searches.count && usage.value.allSatisfy { $0 == "pexels requests 1" })

        // The ledger has them; another job of the channel gets none of them again.
        #expect(try await store.footageUsed(channel: "facts", days: 30, excludingJob: 0)
                == ["pexels:clip:103", "pexels:clip:101", "pexels:clip:104", "pexels:image:201"])
        let next = try await source(pexels(fake), ledger: store).footage(for: [scene(0, "The lighthouse again.")], job: 8)
        #expect(next.map { $0.credit?.id } == ["102"], "the only lighthouse clip the channel has not used (landscape, cropped to cover)")
        // The same job again (a retried stage) chooses what it chose before.
        let again = try await source(pexels(fake), ledger: store).footage(for: scenes, job: 7)
        #expect(again.map { $0.credit?.id } == assets.map { $0.credit?.id })
        // Past the reuse window the channel may use them again.
        #expect(try await store.footageUsed(channel: "facts", days: 0, excludingJob: 0).isEmpty)
        #expect(try await store.footageUsed(channel: "horror", days: 30, excludingJob: 0).isEmpty)
    }

    /// Two jobs of a channel choosing at once (each read the ledger before the other claimed):
    /// never the same clip or photo, the later claim going to the next best.
    @Test func twoJobsOfAChannelChoosingAtOnceNeverShareAClip() async throws {
        let fake = try FakeStock(key: Self.key)
        try await stocked(fake)
        let store = try SQLiteJobStore(path: dir.path("q.db"))
        // Three lighthouse clips in the fake; each job wants one for its scene.
        let scenes = [scene(0, "A lighthouse.")]
        async let first = source(pexels(fake), ledger: store).footage(for: scenes, job: 1)
        async let second = source(pexels(fake), ledger: store).footage(for: scenes, job: 2)
        let (a, b) = try await (first, second)
        let keys = (a + b).compactMap { $0.credit?.key(kind: $0.kind) }
        #expect(keys.count == 2 && Set(keys).count == 2, "\(keys)")
        #expect(try await store.footageUsed(channel: "facts", days: 30, excludingJob: 0) == Set(keys))
    }

    @Test func aSceneWithNothingUnusedFailsClearlyAndIsNotRetried() async throws {
        let fake = try FakeStock(key: Self.key)
        try await stocked(fake)
        let store = try SQLiteJobStore(path: dir.path("q.db"))
        try await store.recordFootage(channel: "facts", job: 1, keys: ["pexels:clip:101", "pexels:clip:102", "pexels:clip:103"])
        await #expect {
            try await source(pexels(fake), ledger: store).footage(for: [scene(0, "A lighthouse.")], job: 2)
        } throws: { error in
            let e = error as? ProviderError
            return e?.code == "image.no_footage" && e?.isRetryable == false && e?.message.contains("scene 1") == true
                && e?.message.contains("'lighthouse'") == true && e?.message.contains("3 used on channel facts in the last 30 days") == true
        }
    }

    @Test func searchesAreCachedForADayAndDownloadsForGood() async throws {
        let fake = try FakeStock(key: Self.key)
        try await stocked(fake)
        let now = Locked(Date())
        let clock: @Sendable () -> Date = { now.value }
        let scenes = [scene(0, "Waves on the ocean.")]
        _ = try await source(pexels(fake, clock: clock), ledger: nil, clock: clock).footage(for: scenes, job: 1)
        let searched = fake.searches.count
        let downloads = fake.state.value.requests.count - searched
        #expect(searched == 1 && downloads == 1)
        now.value = now.value.addingTimeInterval(23 * 3600)
        _ = try await source(pexels(fake, clock: clock), ledger: nil, clock: clock).footage(for: scenes, job: 2)
        #expect(fake.state.value.requests.count == searched + downloads, "within 24 h nothing is asked again")
        now.value = now.value.addingTimeInterval(2 * 3600)
        _ = try await source(pexels(fake, clock: clock), ledger: nil, clock: clock).footage(for: scenes, job: 3)
        #expect(fake.searches.count == 2 && fake.state.value.requests.count == 3, "after 24 h the search is asked again; the file is kept")
    }

    @Test func aDownloadTakenFromTheCacheIsMarkedUsedWithItsModificationTimeKept() async throws {
        let fake = try FakeStock(key: Self.key)
        try await stocked(fake)
        let scenes = [scene(0, "Waves on the ocean.")]
        let first = try await source(pexels(fake), ledger: nil).footage(for: scenes, job: 1)
        let path = try #require(first.first?.path)
        let tenDaysAgo = Date().addingTimeInterval(-10 * 86400)
        try StockCacheTests.setTimes(path, accessed: tenDaysAgo, modified: tenDaysAgo)
        let second = try await source(pexels(fake), ledger: nil).footage(for: scenes, job: 2)
        #expect(second.first?.path == path && fake.state.value.requests.count == 2, "taken from the cache, not downloaded again")
        let t = try #require(StockCache.times(path))
        #expect(abs(t.used.timeIntervalSinceNow) < 60, "its access time says it was used now: \(t.used)")
        // Its modification time is part of the key of what the images and motion stages made from it.
        #expect(abs(t.made.timeIntervalSince(tenDaysAgo)) < 1, "its modification time is left alone: \(t.made)")
    }

    @Test func aDownloadThatIsNotMediaIsRefusedAndNotKept() async throws {
        let fake = try FakeStock(key: Self.key)
        try await stocked(fake)
        fake.state.update { $0.files["tall.mp4"] = Data("<html>gone</html>".utf8) }
        await #expect {
            try await source(pexels(fake), ledger: nil).footage(for: [scene(0, "Ocean waves.")], job: 1)
        } throws: { error in
            let e = error as? ProviderError
            return e?.code == "image.bad_response" && e?.isRetryable == true && e?.message.contains("Pexels video 104") == true
        }
        let kept = try FileManager.default.subpathsOfDirectory(atPath: dir.path("cache")).filter { $0.hasSuffix(".mp4") || $0.contains(".tmp") }
        #expect(kept.isEmpty, "\(kept)")
        fake.state.update { $0.files["tall.mp4"] = nil }
        await #expect {
            try await source(pexels(fake), ledger: nil).footage(for: [scene(0, "Ocean waves.")], job: 1)
        } throws: { error in
            (error as? ProviderError)?.message.contains("the download answered HTTP 404") == true
        }
    }

    // MARK: - Pexels' errors

    @Test func pexelsErrors() async throws {
        let fake = try FakeStock(key: Self.key)
        try await stocked(fake)
        let wrong = PexelsSearch(baseURL: fake.baseURL, apiKey: "pk-wrong-key-123456")
        await #expect {
            try await wrong.search("lighthouse", kind: .clip, width: 1080, height: 1920, language: "en")
        } throws: { error in
            let e = error as? ProviderError
            return e?.code == "image.unauthorized" && e?.isRetryable == false && e?.message.contains("PEXELS_API_KEY") == true
                && e?.message.contains("pk-wrong") == false
        }
        let now = Date()
        fake.state.update { $0.throttled = true }
        await #expect {
            try await pexels(fake, clock: { now }).search("lighthouse", kind: .clip, width: 1080, height: 1920, language: "en")
        } throws: { error in
            let e = error as? ProviderError
            return e?.code == "image.rate_limited" && e?.isRetryable == true && e?.retryAt == now.addingTimeInterval(600)
        }
        fake.state.update { $0.throttled = false; $0.failure = (502, "<html>Bad Gateway</html>") }
        await #expect {
            try await pexels(fake).search("lighthouse", kind: .clip, width: 1080, height: 1920, language: "en")
        } throws: { error in
            let e = error as? ProviderError
            return e?.code == "image.server_error" && e?.isRetryable == true
        }
        fake.state.update { $0.failure = (200, "<html>a captive portal</html>") }
        await #expect {
            try await pexels(fake).search("lighthouse", kind: .clip, width: 1080, height: 1920, language: "en")
        } throws: { error in
            (error as? ProviderError)?.code == "image.bad_response"
        }
    }

    @Test func pexelsSaysNoneRemainSoTheStageStopsAskingUntilTheReset() async throws {
        let fake = try FakeStock(key: Self.key)
        try await stocked(fake)
        fake.state.update { $0.remaining = 1 }
        let search = pexels(fake)
        _ = try await search.search("lighthouse", kind: .clip, width: 1080, height: 1920, language: "en")
        let asked = fake.searches.count
        await #expect {
            try await search.search("ocean", kind: .clip, width: 1080, height: 1920, language: "en")
        } throws: { error in
            let e = error as? ProviderError
            return e?.code == "image.rate_limited" && e?.retryAt == Date(timeIntervalSince1970: Double(FakeStock.resetEpoch))
        }
        #expect(fake.searches.count == asked, "no request is sent once none remain")
    }

    // MARK: - The channel's language

    /// The stocked fake with one more tall video, tagged in `language`, and `provider`'s search of it.
    func stockedWithAVideo(_ id: Int, tags: [String], author: String, language: String, provider: String) async throws -> (FakeStock, any StockSearch) {
        let fake = try FakeStock(key: Self.key)
        try await stocked(fake)
        fake.state.update { s in
            s.catalogue.append(.init(id: id, video: true, tags: tags, author: author, files: [(1080, 1920, "tall.mp4")], seconds: 12, language: language))
        }
        return (fake, provider == "pexels" ? pexels(fake) : pixabay(fake))
    }

    /// The language a search asked for, in `provider`'s parameter (Pexels' `locale`, Pixabay's `lang`).
    func askedLanguage(_ query: [String: String], provider: String) -> String? {
        query[provider == "pexels" ? "locale" : "lang"]
    }

    /// A Spanish channel's scenes are searched in Spanish (Pexels' `locale`, Pixabay's `lang`):
    /// their words are Spanish, and read as English they would find nothing. An English channel
    /// asks for English.
    @Test(arguments: ["pexels", "pixabay"]) func aChannelsFootageIsSearchedInItsLanguage(provider: String) async throws {
        let (fake, search) = try await stockedWithAVideo(301, tags: ["faro", "mar"], author: "Luz", language: "es", provider: provider)
        // Its common words are Spanish ones ("mientras", "tanto"), so its searched words are "faro guardaba mar".
        let assets = try await source(search, ledger: nil, cache: "cache-es", language: "es-MX")
            .footage(for: [scene(0, "Mientras tanto, el faro guardaba el mar.")], job: 9)
        #expect(assets.map { $0.credit?.id } == ["301"] && assets.first?.credit?.author == "Luz")
        let spanish = try #require(fake.searches.first)
        // es-MX as the nearest locale Pexels has.
        #expect(askedLanguage(spanish.query, provider: provider) == (provider == "pexels" ? "es-ES" : "es"), "\(spanish.query)")
        // The same words again in Spanish come from the cache; in English they are asked anew (and find nothing).
        let asked = fake.searches.count
        _ = try await source(search, ledger: nil, cache: "cache-es", language: "es-MX").footage(for: [scene(0, "El faro guardaba el mar.")], job: 12)
        #expect(fake.searches.count == asked)
        // So do they for another tag the provider is told the same way (`es`: Pexels' es-ES, Pixabay's es).
        _ = try await source(search, ledger: nil, cache: "cache-es", language: "es").footage(for: [scene(0, "El faro guardaba el mar.")], job: 15)
        #expect(fake.searches.count == asked, "\(fake.searches.suffix(1).map(\.query))")
        _ = try? await source(search, ledger: nil, cache: "cache-es").footage(for: [scene(0, "El faro guardaba el mar.")], job: 13)
        #expect(fake.searches.count > asked)
        // English: en-US and en.
        let english = try await source(search, ledger: nil, cache: "cache-es").footage(for: [scene(0, "The lighthouse by the sea.")], job: 10)
        #expect(english.first?.credit?.id != "301")
        let last = try #require(fake.searches.last)
        #expect(askedLanguage(last.query, provider: provider) == (provider == "pexels" ? "en-US" : "en"), "\(last.query)")

        // The script's visual is English (its writer is asked for English) even on a Spanish channel.
        var withVisual = scene(0, "Los barcos volvían al puerto.")
        withVisual.visual = "Stormy lighthouse"
        let visual = try await source(search, ledger: nil, cache: "cache-es", language: "es").footage(for: [withVisual], job: 11)
        #expect(visual.first?.matched == ["stormy", "lighthouse"], "\(visual)")
        let asked2 = try #require(fake.searches.last)
        #expect(askedLanguage(asked2.query, provider: provider) == (provider == "pexels" ? "en-US" : "en"), "\(asked2.query)")
    }

    @Test(arguments: ["pexels", "pixabay"]) func aJapaneseChannelsFootageIsSearchedByTheNounsItsNarrationSays(provider: String) async throws {
        let (fake, search) = try await stockedWithAVideo(302, tags: ["廃墟", "ホテル"], author: "Kaito", language: "ja", provider: provider)
        // Written without spaces: searched as its nouns ("廃墟 ホテル 幽霊"), not as the whole sentence.
        let assets = try await source(search, ledger: nil, cache: "cache-ja", language: "ja")
            .footage(for: [scene(0, "廃墟のホテルに幽霊が出るという。")], job: 14)
        #expect(assets.map { $0.credit?.id } == ["302"] && assets.first?.matched == ["廃墟", "ホテル", "幽霊"], "\(assets)")
        let asked = try #require(fake.searches.first)
        #expect(askedLanguage(asked.query, provider: provider) == (provider == "pexels" ? "ja-JP" : "ja"), "\(asked.query)")
    }

    @Test func japaneseTextIsSplitIntoTheWordsItsScriptsMark() {
        // Kanji a particle follows are nouns; a kanji stem whose ending is hiragana (古い, 聞こえた) is not.
        #expect(FootageWords.searchTerms("古い家で奇妙な音が聞こえた。", language: "ja") == ["家", "奇妙", "音"])
        // Katakana loanwords; the longest words when there are more than the limit (深夜, 階段 and 足音
        // are two characters each: the first said is kept), in the order said.
        #expect(FootageWords.searchTerms("深夜、古びたアパートの階段で足音が響く", limit: 2, language: "ja-JP") == ["深夜", "アパート"])
        #expect(FootageWords.japaneseWords("NASAの火星探査機が見つけた") == ["NASA", "火星探査機"])
        // Particles of more than one kana; endings that begin like a particle are still a stem's.
        #expect(FootageWords.searchTerms("空から雨が降ってきた", language: "ja") == ["空", "雨"])
        #expect(FootageWords.searchTerms("森まで歩いた", language: "ja") == ["森"])
        #expect(FootageWords.searchTerms("誰も見ない、上がる、少ない", language: "ja").isEmpty)
        // A small ヶ inside a kanji word, and half-width katakana read as full-width.
        #expect(FootageWords.searchTerms("霞ヶ関の駅でﾎﾃﾙを探す", language: "ja") == ["霞ヶ関", "駅", "ホテル"])
        // A call to action's words and the common ones are not searched.
        #expect(FootageWords.searchTerms("チャンネル登録と高評価をお願いします！", language: "ja").isEmpty)
        #expect(FootageWords.searchTerms("私は今日、森の中で", language: "ja") == ["森"])
        // Read as another language it stays one phrase.
        #expect(FootageWords.searchTerms("古い家で奇妙な音が聞こえた。", language: "en") == ["古い家で奇妙な音が聞こえた"])
    }

    @Test func theLanguageIsAskedInTheFormEachProviderTakes() {
        #expect(PexelsSearch.locale(for: "pt-BR") == "pt-BR" && PexelsSearch.locale(for: "PT-br") == "pt-BR")
        #expect(PexelsSearch.locale(for: "ja") == "ja-JP" && PexelsSearch.locale(for: "zh-TW") == "zh-TW")
        #expect(PexelsSearch.locale(for: "es-419") == "es-ES" && PexelsSearch.locale(for: "xx") == nil)
        #expect(PixabaySearch.lang(for: "nb-NO") == "no" && PixabaySearch.lang(for: "ja-JP") == "ja")
        #expect(PixabaySearch.lang(for: "EN") == "en" && PixabaySearch.lang(for: "ca") == nil)
    }

    // MARK: - Pixabay

    @Test func pixabaySearchesWithTheKeyInTheQueryAndSkipsTheEmptyLargeRendition() async throws {
        let fake = try FakeStock(key: Self.key)
        try await stocked(fake)
        let assets = try await source(pixabay(fake), ledger: nil).footage(
            for: [scene(0, "The lighthouse in a storm."), scene(1, "A jar of honey.")], job: 3)
        #expect(assets.map { $0.credit?.id } == ["103", "201"])
        #expect(assets[0].credit?.author == "Cai" && assets[0].credit?.authorURL == "https://pixabay.com/users/Cai-1103/"
                && assets[0].credit?.page == "https://pixabay.com/videos/id-103/" && assets[0].credit?.licence == PixabaySearch.licence)
        #expect(assets[0].tags == ["lighthouse", "storm"] && assets[1].kind == .image)
        let first = try #require(fake.searches.first)
        #expect(first.path == "/api/videos/" && first.query["key"] == Self.key && first.query["q"] == "lighthouse storm")
        #expect(first.query["safesearch"] == "true" && first.query["per_page"] == "20")
        let photo = try #require(fake.searches.first { $0.path == "/api/" })
        #expect(photo.query["image_type"] == "photo" && photo.query["orientation"] == "vertical")
        let probe = try await tools.probe(assets[0].path)
        #expect((probe["streams"] as? [[String: Any]])?.first?["height"] as? Int == 1920)
    }

    @Test func pixabayErrorsAreReadFromTheirPlainText() async throws {
        let fake = try FakeStock(key: Self.key)
        try await stocked(fake)
        let wrongKey = "px-wrong-key-abcdef"
        await #expect {
            try await PixabaySearch(baseURL: fake.baseURL + "/api", apiKey: wrongKey).search("lighthouse", kind: .clip, width: 1080, height: 1920, language: "en")
        } throws: { error in
            let e = error as? ProviderError
            // Pixabay echoes the key in its 400: it must not reach the message.
            return e?.code == "image.unauthorized" && e?.isRetryable == false && e?.message.contains("PIXABAY_API_KEY") == true
                && e?.message.contains(wrongKey) == false && e?.message.contains("Invalid or missing API key") == true
        }
        let now = Date()
        fake.state.update { $0.throttled = true }
        await #expect {
            try await pixabay(fake, clock: { now }).search("lighthouse", kind: .clip, width: 1080, height: 1920, language: "en")
        } throws: { error in
            let e = error as? ProviderError
            return e?.code == "image.rate_limited" && e?.isRetryable == true && e?.retryAt == now.addingTimeInterval(42)
                && e?.message.contains("API rate limit exceeded") == true
        }
        fake.state.update { $0.throttled = false; $0.failure = (400, "[ERROR 400] \"page\" is out of valid range.") }
        await #expect {
            try await pixabay(fake).search("lighthouse", kind: .clip, width: 1080, height: 1920, language: "en")
        } throws: { error in
            let e = error as? ProviderError
            return e?.code == "image.bad_request" && e?.isRetryable == false && e?.message.contains("out of valid range") == true
        }
    }

    // MARK: - Pure parts

    @Test func searchTermsAreTheSentencesMostSpecificWordsInOrder() {
        #expect(FootageWords.searchTerms("The old lighthouse keeper climbed the stairs.") == ["lighthouse", "keeper", "climbed"])
        #expect(FootageWords.searchTerms("An octopus's three hearts don't stop.") == ["octopus", "three", "hearts"])
        #expect(FootageWords.searchTerms("Quiet.", limit: 1) == ["quiet"])
        #expect(FootageWords.searchTerms("It is so.").isEmpty)
        // In the channel's language: Spanish common words (and a call to action's) are not searched.
        #expect(FootageWords.searchTerms("Y después, mientras tanto, el faro siempre brillaba.", language: "es-MX") == ["faro", "brillaba"])
        #expect(FootageWords.searchTerms("Suscríbete también al canal.", language: "es").isEmpty)
        #expect(FootageWords.searchTerms("mientras", language: "en") == ["mientras"])
        // Nothing to search in the sentence: the topic's words.
        #expect(StockFootageSource.queries(for: scene(0, "It is so.")) == [["lighthouses", "matter"]])
        #expect(StockFootageSource.queries(for: scene(0, "Another lighthouse warned the ships."))
                == [["another", "lighthouse", "warned"], ["lighthouse"], ["lighthouses", "matter"]])
        // The script's visual for the scene comes first, as written.
        var withVisual = scene(0, "Another lighthouse warned the ships.")
        withVisual.visual = "Stormy LIGHTHOUSE at night"
        #expect(StockFootageSource.queries(for: withVisual).first == ["stormy", "lighthouse", "at", "night"])
    }

    @Test func theRenditionIsTheSmallestThatCoversTheFormat() {
        let files: [(width: Int, height: Int, item: String)] = [(640, 360, "sd"), (3840, 2160, "4k"), (1920, 1080, "hd"), (0, 0, "hls")]
        #expect(StockHit.rendition(files, covering: 1920, 1080)?.item == "hd")
        #expect(StockHit.rendition(files, covering: 1080, 1920)?.item == "4k")
        #expect(StockHit.rendition(files, covering: 4000, 4000)?.item == "4k", "none covers: the largest")
        #expect(StockHit.rendition([(0, 0, "hls")], covering: 1, 1) == nil)
    }
}
