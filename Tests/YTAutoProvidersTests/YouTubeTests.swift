import Foundation
import NIOHTTP1
import Testing
import YTAutoCore
import YTAutoProviders
import YTAutoStore
import YTAutoTestSupport
import YTAutoSupport

/// The YouTube adapter against a loopback YouTube that speaks the Data API's resumable-upload protocol.
@Suite struct YouTubeTests {
    let dir = TempDir("ytauto-youtube")
    let fake: FakeYouTube
    let video: URL
    let thumb: URL

    init() throws {
        fake = try FakeYouTube()
        (video, thumb) = try Self.uploadFiles(in: dir)
    }

    /// A video of 700 KiB (two whole 256 KiB chunks and a shorter last one, of varied bytes) and a
    /// thumbnail, in `dir`.
    static func uploadFiles(in dir: TempDir) throws -> (video: URL, thumb: URL) {
        let video = dir.url.appending(path: "video.mp4"), thumb = dir.url.appending(path: "thumb.jpg")
        var bytes = [UInt8](repeating: 0, count: 700 * 1024)
        for i in bytes.indices { bytes[i] = UInt8(truncatingIfNeeded: i &* 2654435761 >> 7) }
        try Data(bytes).write(to: video)
        try Data("jpeg bytes".utf8).write(to: thumb)
        return (video, thumb)
    }

    /// A token file as `ytauto auth youtube` leaves it, with an access token that has expired.
    func oauth(expiredAccess: Bool = true, secret: String = "client-secret") throws -> YouTubeOAuth {
        let path = dir.path("youtube-token.json")
        let json = #"{"access_token":"stale","expires_at":"2020-01-01T00:00:00Z","refresh_token":"refresh-1"}"#
        try Credentials.writePrivate(Data(json.utf8), to: path)
        return YouTubeOAuth(clientID: "client-id", clientSecret: secret, authURL: fake.base + "/auth",
                            tokenURL: fake.base + "/token", tokenFile: path)
    }

    func uploader(_ oauth: YouTubeOAuth, notes: Locked<[String: String]>, events: Locked<[String]>? = nil,
                  quota: YouTubeQuota? = nil, warnings: Locked<[String]>? = nil, language: String = "en") -> YouTubeDataAPIUploader {
        YouTubeDataAPIUploader(
            oauth: oauth, uploadBase: fake.base + "/upload", apiBase: fake.base, chunkSize: 256 << 10,
            metadata: { t, d, tags in
                YouTubeMetadata(title: t, description: d, tags: tags, categoryID: "27", privacyStatus: "unlisted",
                                publishAt: Timestamp.date("2026-12-01T18:00:00.000Z"), madeForKids: false, containsSyntheticMedia: true,
                                language: language)
            },
            notes: notes.value,
            save: { more in
                events?.update { $0.append("save \(more.keys.sorted().joined(separator: ","))") }
                notes.update { $0.merge(more) { _, n in n } }
            },
            backoff: [.milliseconds(10), .milliseconds(20), .milliseconds(40)],
            quota: quota, warn: { text in warnings?.update { $0.append(text) } })
    }

    func upload(_ u: YouTubeDataAPIUploader, thumbnail: URL? = nil) async throws -> PublishResult {
        try await u.publish(video: video, title: "T", description: "", tags: [], thumbnail: thumbnail)
    }

    /// Whether `date` is a midnight in Los Angeles within the next day.
    static func isNextPacificMidnight(_ date: Date?) -> Bool {
        guard let date else { return false }
        var cal = Calendar(identifier: .gregorian)
        cal.timeZone = TimeZone(identifier: "America/Los_Angeles")!
        let c = cal.dateComponents([.hour, .minute], from: date)
        return c.hour == 0 && c.minute == 0 && date > Date() && date < Date().addingTimeInterval(86_400 + 3600)
    }

    @Test func uploadsInChunksSavesTheSessionFirstAndSetsTheThumbnail() async throws {
        let notes = Locked<[String: String]>([:])
        let result = try await uploader(try oauth(), notes: notes)
            .publish(video: video, title: String(repeating: "Long <title> ", count: 12), description: "D", tags: ["a", "b c"], thumbnail: thumb)
        let s = fake.state.value
        let original = try Data(contentsOf: video), thumbnail = try Data(contentsOf: thumb)
        #expect(s.videos[result.videoID] == original)
        #expect(s.thumbnails[result.videoID] == thumbnail)
        #expect(notes.value["video_id"] == result.videoID && notes.value["thumbnail_set"] == "true")
        #expect(notes.value["session_uri"]?.contains("upload_id=upload-1") == true)
        // The expired access token was refreshed before the first call.
        #expect(s.log.first?.hasPrefix("POST /token") == true)
        // Three chunks of 256 KiB at most, each with its Content-Range.
        let puts = s.log.filter { $0.hasPrefix("PUT") }
        #expect(puts == ["PUT /upload/youtube/v3/videos bytes 0-262143/716800", "PUT /upload/youtube/v3/videos bytes 262144-524287/716800",
                         "PUT /upload/youtube/v3/videos bytes 524288-716799/716800"])
        // Metadata: title cut to 100 characters without angle brackets, the disclosure, scheduling.
        let meta = try #require(s.sessions["upload-1"]?.metadata)
        let snippet = try #require(meta["snippet"] as? [String: Any]), status = try #require(meta["status"] as? [String: Any])
        let title = try #require(snippet["title"] as? String)
        #expect(title.count == 100 && !title.contains("<"))
        #expect(snippet["categoryId"] as? String == "27" && snippet["tags"] as? [String] == ["a", "b c"])
        #expect(status["containsSyntheticMedia"] as? Bool == true && status["selfDeclaredMadeForKids"] as? Bool == false)
        #expect(status["privacyStatus"] as? String == "private" && status["publishAt"] as? String == "2026-12-01T18:00:00.000Z")
    }

    @Test func theSessionIsSavedBeforeTheFirstByte() async throws {
        let notes = Locked<[String: String]>([:])
        let events = Locked<[String]>([])
        _ = try await uploader(try oauth(), notes: notes, events: events).publish(video: video, title: "T", description: "", tags: [], thumbnail: nil)
        let log = fake.state.value.log
        let firstChunk = try #require(log.firstIndex { $0.hasPrefix("PUT") })
        #expect(events.value.first == "save final_chunk_sent,session_opened_at,session_uri")
        // The last chunk is marked before it goes (a lost answer then makes the next attempt look for the video).
        #expect(events.value.dropFirst().first == "save final_chunk_sent", "\(events.value)")
        // The save happened between opening the session and the first PUT: the session call is logged before it.
        #expect(log[..<firstChunk].contains { $0.hasPrefix("POST /upload/youtube/v3/videos") })
    }

    @Test func aConnectionDroppedMidChunkResumesFromThe308() async throws {
        fake.state.update { $0.dropChunks = 1 }
        let notes = Locked<[String: String]>([:])
        let result = try await uploader(try oauth(), notes: notes).publish(video: video, title: "T", description: "", tags: [], thumbnail: nil)
        let s = fake.state.value
        let original = try Data(contentsOf: video)
        #expect(s.videos[result.videoID] == original)
        #expect(s.sessions.count == 1)
        // After the drop it asked where the session stood, and resumed from half the first chunk.
        #expect(s.log.contains("PUT /upload/youtube/v3/videos bytes */716800"))
        #expect(s.log.contains("PUT /upload/youtube/v3/videos bytes 131072-393215/716800"))
    }

    @Test func aCrashAfterTheSessionOpenedResumesItInsteadOfStartingAgain() async throws {
        // The first attempt's connection drops mid-chunk and it gives up at once (as if the worker died there).
        let notes = Locked<[String: String]>([:])
        fake.state.update { $0.dropChunks = 1 }
        let cut = YouTubeDataAPIUploader(
            oauth: try oauth(), uploadBase: fake.base + "/upload", apiBase: fake.base, chunkSize: 256 << 10,
            metadata: { t, d, g in YouTubeMetadata(title: t, description: d, tags: g) }, notes: [:],
            save: { more in notes.update { $0.merge(more) { _, n in n } } }, backoff: [])
        await #expect(throws: YouTubeUploadError.self) {
            try await cut.publish(video: video, title: "T", description: "", tags: [], thumbnail: nil)
        }
        let saved = notes.value
        #expect(saved["session_uri"] != nil && saved["video_id"] == nil)
        let partial = fake.state.value.sessions["upload-1"]?.received.count ?? 0
        #expect(partial > 0)
        // The retried stage starts with the saved notes.
        let result = try await uploader(try oauth(), notes: notes).publish(video: video, title: "T", description: "", tags: [], thumbnail: thumb)
        let s = fake.state.value
        #expect(s.sessions.count == 1)
        let original = try Data(contentsOf: video)
        #expect(s.videos.count == 1 && s.videos[result.videoID] == original)
        #expect(s.log.contains("PUT /upload/youtube/v3/videos bytes \(partial)-\(min(partial + (256 << 10), 716800) - 1)/716800"))
    }

    @Test func aRecordedVideoIDIsConfirmedAndNeverUploadedAgain() async throws {
        let notes = Locked<[String: String]>([:])
        let first = try await uploader(try oauth(), notes: notes).publish(video: video, title: "T", description: "", tags: [], thumbnail: nil)
        // The stage is retried (say the worker died after saving the id): it confirms and sets the thumbnail only.
        let again = try await uploader(try oauth(), notes: notes).publish(video: video, title: "T", description: "", tags: [], thumbnail: thumb)
        let s = fake.state.value
        #expect(again == first && s.videos.count == 1 && s.sessions.count == 1)
        #expect(s.log.contains { $0.hasPrefix("GET /youtube/v3/videos") })
        #expect(s.thumbnails[first.videoID] != nil)
        // A recorded id that YouTube no longer has is refused, not uploaded a second time.
        fake.state.update { $0.videos.removeAll() }
        await #expect {
            try await uploader(try oauth(), notes: notes).publish(video: video, title: "T", description: "", tags: [], thumbnail: nil)
        } throws: { ($0 as? YouTubeUploadError)?.isRetryable == false }
        #expect(fake.state.value.sessions.count == 1)
    }

    @Test func quotaExceededParksTheJobUntilMidnightInLosAngeles() async throws {
        fake.state.update { $0.quotaExceeded = true }
        let notes = Locked<[String: String]>([:])
        let error = try #require(await thrown { try await upload(uploader(try oauth(), notes: notes)) })
        let e = try #require(error as? YouTubeQuotaExceededError, "\(error)")
        #expect(Self.isNextPacificMidnight(e.retryAt) && e.message.contains("quotaExceeded") && e.message.contains("HTTP 403"))
        #expect(notes.value["session_uri"] == nil && fake.state.value.opened == 0)
        // Parked, not failed: what the retry policy reads from the thrown error spends no attempt and waits for the reset.
        let failure = JobFailure(error)
        #expect(failure.code == "youtube.quota_exceeded" && failure.isRetryable && !failure.spendsAttempt)
        #expect(Self.isNextPacificMidnight(failure.retryAt))
    }

    @Test func aRevokedAccessTokenIsRefreshedOnceAndARevokedGrantIsPermanent() async throws {
        let auth = try oauth()
        let notes = Locked<[String: String]>([:])
        _ = try await auth.accessToken()
        fake.expireAccessTokens()  // the stored one is now refused with 401
        let r = try await uploader(auth, notes: notes).publish(video: video, title: "T", description: "", tags: [], thumbnail: nil)
        #expect(fake.state.value.videos[r.videoID] != nil)
        #expect(fake.state.value.issued == 2)
        // The token file keeps the new token, mode 0600, and never appears in an error.
        let path = dir.path("youtube-token.json")
        var st = stat()
        stat(path, &st)
        #expect(st.st_mode & 0o777 == 0o600)

        fake.state.update { $0.revoked = true }
        fake.expireAccessTokens()
        await #expect {
            try await uploader(auth, notes: Locked([:])).publish(video: video, title: "T", description: "", tags: [], thumbnail: nil)
        } throws: { error in
            guard let e = error as? YouTubeAuthError else { return false }
            return !e.isRetryable && e.message.contains("invalid_grant") && e.message.contains("run `ytauto auth youtube`")
                && !"\(e)".contains("refresh-1") && !"\(e)".contains("access-")
        }
    }

    @Test func aTokenFileOthersCanReadIsRefused() async throws {
        let auth = try oauth()
        chmod(dir.path("youtube-token.json"), 0o644)
        await #expect {
            try await auth.accessToken()
        } throws: { ($0 as? YouTubeAuthError)?.message.contains("chmod 600") == true }
    }

    @Test func theLedgerRefusesAnUploadThatWouldPassTheDailyQuota() async throws {
        let store = try SQLiteJobStore(path: dir.path("ledger.db"))
        let day = QuotaDay.youtube(Date())
        #expect(try await store.reserve(provider: "youtube", channel: "facts", unit: "units", amount: 1650, limit: 3000, day: day))
        #expect(try await store.reserve(provider: "youtube", channel: "horror", unit: "units", amount: 1650, limit: 3000, day: day) == false)
        try await store.record(provider: "elevenlabs", channel: "facts", unit: "characters", amount: 120, day: QuotaDay.utc(Date()))
        #expect(try await store.used(provider: "youtube", unit: "units", day: day) == 1650)
        #expect(try await store.ledger(since: "2000-01-01").count == 2)
    }

    @Test func credentialsComeFromTheEnvironmentOrAPrivateFile() throws {
        let file = dir.path("credentials.yaml")
        try "# keys\nopenai_api_key: sk-file\nyoutube_client_id: 'cid'\n".write(toFile: file, atomically: true, encoding: .utf8)
        chmod(file, 0o644)
        #expect { try Credentials.load(file: file, environment: [:]) } throws: { "\($0)".contains("chmod 600") }
        chmod(file, 0o600)
        let c = try Credentials.load(file: file, environment: ["OPENAI_API_KEY": "sk-env"])
        #expect(c["OPENAI_API_KEY"] == "sk-env" && c["YOUTUBE_CLIENT_ID"] == "cid")
        #expect(!c.description.contains("sk-") && c.description.contains("OPENAI_API_KEY"))
        #expect { try c.require("ANTHROPIC_API_KEY", for: "x") } throws: { "\($0)".contains("ANTHROPIC_API_KEY") }
        try "bogus_key: 1\n".write(toFile: file, atomically: true, encoding: .utf8)
        chmod(file, 0o600)
        #expect { try Credentials.load(file: file, environment: [:]) } throws: { "\($0)".contains("line 1") && "\($0)".contains("unknown name") }
    }

    /// A token reply without the refresh token asked for still carries an access token: the
    /// error names what was missing and the reply's fields, never a token.
    @Test func aCodeExchangeWithoutARefreshTokenShowsNoToken() async throws {
        fake.state.update { $0.authCodes["code-9"] = "*"; $0.codeRepliesWithoutRefresh = true }
        let o = try oauth()
        await #expect {
            try await o.exchange(code: "code-9", redirectURI: "http://127.0.0.1:1/", verifier: "v")
        } throws: { error in
            let text = "\(error)"
            return text.contains("without a refresh_token") && text.contains("access_token, expires_in") && !text.contains("access-")
        }
        #expect(fake.state.value.issued == 1)
    }

    // MARK: - YouTube's real behaviour (issue 13, section 3)

    @Test func uploadLimitExceededIsA400AndParksTheJobLikeTheQuota() async throws {
        fake.state.update { $0.uploadLimitExceeded = true }
        let notes = Locked<[String: String]>([:])
        await #expect {
            try await upload(uploader(try oauth(), notes: notes))
        } throws: { error in
            guard let e = error as? YouTubeQuotaExceededError else { return false }
            return !e.spendsAttempt && e.isRetryable && Self.isNextPacificMidnight(e.retryAt)
                && e.message.contains("uploadLimitExceeded") && e.message.contains("HTTP 400")
        }
        #expect(notes.value["session_uri"] == nil && fake.state.value.sessions.isEmpty)
    }

    @Test(arguments: [FakeYouTube.RateLimitStyle.dataAPI, .rpc])
    func aShortRateLimitIsRetriedWithBackoffAndNeverParked(style: FakeYouTube.RateLimitStyle) async throws {
        let original = try Data(contentsOf: video)
        // Two refusals: the backoff inside the attempt outlasts them and the upload completes.
        fake.state.update { $0.rateLimited = 2; $0.rateLimitStyle = style }
        let notes = Locked<[String: String]>([:])
        let result = try await upload(uploader(try oauth(), notes: notes))
        #expect(fake.state.value.videos[result.videoID] == original)
        #expect(fake.state.value.sessions.count == 1)
        // A limit that outlasts the backoff ends the attempt retryably, spending it: not parked until the reset.
        fake.state.update { $0.rateLimited = 1000 }
        await #expect {
            try await upload(uploader(try oauth(), notes: Locked([:])))
        } throws: { error in
            guard let e = error as? YouTubeRateLimitError else { return false }
            let failure = JobFailure(e)
            return failure.code == "youtube.rate_limited" && failure.isRetryable && failure.spendsAttempt
                && !Self.isNextPacificMidnight(failure.retryAt) && e.message.contains("still rate-limited after 4 tries")
                && (e.message.contains("rateLimitExceeded") || e.message.contains("RATE_LIMIT_EXCEEDED"))
        }
    }

    /// Google's 429 carries `Retry-After`: a short one is waited before the next try (the
    /// backoff's steps here are 10–40 ms), a long one ends the attempt at once, the job due then.
    @Test(.timeLimit(.minutes(1))) func aRateLimitsRetryAfterIsWaitedOrEndsTheAttemptAtIt() async throws {
        fake.state.update { $0.rateLimited = 1; $0.rateLimitStyle = .rpc; $0.retryAfterSeconds = 1 }
        let result = try await upload(uploader(try oauth(), notes: Locked([:])))
        #expect(fake.state.value.videos[result.videoID] != nil)
        let s = fake.state.value
        let refused = try #require(s.limitedAt.first), next = try #require(s.firstAfterLimitsAt)
        #expect(next.timeIntervalSince(refused) >= 0.99, "the next try came \(next.timeIntervalSince(refused)) s after a Retry-After of 1 s")

        let long = Int(YouTubeDataAPIUploader.longestInlineWait) + 60
        fake.state.update { $0.rateLimited = 1000; $0.retryAfterSeconds = long; $0.limitedAt = [] }
        let asked = Date()
        await #expect {
            try await upload(uploader(try oauth(), notes: Locked([:])))
        } throws: { error in
            guard let e = error as? YouTubeRateLimitError, let at = e.retryAt else { return false }
            return abs(at.timeIntervalSince(asked) - Double(long)) < 5 && e.message.contains("YouTube asks for")
        }
        #expect(fake.state.value.limitedAt.count == 1, "tried \(fake.state.value.limitedAt.count) times inside the attempt")
    }

    @Test func aSessionWhoseRangeNeverAdvancesIsGivenUpAfterAFewTries() async throws {
        let original = try Data(contentsOf: video)
        fake.state.update { $0.stalledChunks = 100 }
        let notes = Locked<[String: String]>([:])
        await #expect {
            try await upload(uploader(try oauth(), notes: notes))
        } throws: { error in
            guard let e = error as? YouTubeUploadError else { return false }
            return e.isRetryable && e.message.contains("took none of the last \(YouTubeDataAPIUploader.stallLimit) chunks sent from byte 0")
        }
        let puts = fake.state.value.log.filter { $0.hasPrefix("PUT") }
        #expect(puts.count == YouTubeDataAPIUploader.stallLimit)
        #expect(notes.value["session_uri"] != nil)  // the next attempt resumes this session
        // A session that stalls briefly and then takes the chunks is followed to the end.
        fake.state.update { $0.stalledChunks = YouTubeDataAPIUploader.stallLimit - 1 }
        let result = try await upload(uploader(try oauth(), notes: notes))
        #expect(fake.state.value.videos[result.videoID] == original && fake.state.value.sessions.count == 1)
    }

    @Test func failedRefreshesGiveTheQuotaReservationBack() async throws {
        let store = try SQLiteJobStore(path: dir.path("ledger.db"))
        let day = QuotaDay.youtube(Date())
        try await store.record(provider: "youtube", channel: "horror", unit: "units", amount: 100, day: day)
        let quota = YouTubeQuota(ledger: store, channel: "facts", cost: 1650, dailyQuota: 10_000)
        // One job's five attempts (its notes carry over): three where the token endpoint is down,
        // two where the grant is revoked. None opens a session.
        let notes = Locked<[String: String]>([:])
        fake.state.update { $0.tokenServerErrors = 1000 }
        for _ in 0..<3 {
            await #expect(throws: YouTubeUploadError.self) { try await upload(uploader(try oauth(), notes: notes, quota: quota)) }
            #expect(try await store.used(provider: "youtube", unit: "units", day: day) == 100)
        }
        fake.state.update { $0.tokenServerErrors = 0; $0.revoked = true }
        for _ in 0..<2 {
            await #expect(throws: YouTubeAuthError.self) { try await upload(uploader(try oauth(), notes: notes, quota: quota)) }
            #expect(try await store.used(provider: "youtube", unit: "units", day: day) == 100)
        }
        #expect(fake.state.value.opened == 0)
        #expect(try await store.ledger(since: day).map(\.channel) == ["horror"])
        // Re-authorised: the upload reserves once, and keeps it.
        fake.state.update { $0.revoked = false }
        _ = try await upload(uploader(try oauth(), notes: notes, quota: quota))
        #expect(try await store.used(provider: "youtube", unit: "units", day: day) == 1750)
        #expect(notes.value["quota_reserved"] == day)
    }

    /// Google's two buckets: `videos.insert` its own (100 calls a day), every other method the
    /// shared 10,000 units. With the default costs (thumbnail 50 + captions 400, the insert 0
    /// units) 22 uploads fit in the units, not 4 as when the insert was charged 1,600 of them;
    /// each bucket parks the job at its own limit, naming it, and a refusal keeps neither.
    @Test func anUploadTakesOneOfTheInsertBucketAndItsUnitsOfTheOther() async throws {
        let store = try SQLiteJobStore(path: dir.path("ledger.db"))
        let day = QuotaDay.youtube(Date())
        let defaults = ProvidersConfig.YouTube()
        let cost = defaults.uploadCost + defaults.thumbnailCost + defaults.captionsCost
        let quota = YouTubeQuota(ledger: store, channel: "facts", cost: cost, dailyQuota: defaults.dailyQuota, dailyUploads: defaults.dailyUploads)
        let fit = defaults.dailyQuota / cost
        #expect(fit == 22)
        for _ in 0..<fit { #expect(try await quota.reserve() == day) }
        await #expect { try await quota.reserve() } throws: { e in
            (e as? YouTubeQuotaExceededError)?.message.contains("thumbnail and captions cost 450 units") == true
        }
        #expect(try await store.used(provider: "youtube", unit: "uploads", day: day) == fit)
        #expect(try await store.used(provider: "youtube", unit: "units", day: day) == fit * cost)
        try await quota.release(day: day)
        #expect(try await store.used(provider: "youtube", unit: "uploads", day: day) == fit - 1)
        #expect(try await store.used(provider: "youtube", unit: "units", day: day) == (fit - 1) * cost)

        // The insert's own bucket: three a day, plenty of units.
        let other = try SQLiteJobStore(path: dir.path("ledger-2.db"))
        let three = YouTubeQuota(ledger: other, channel: "facts", cost: cost, dailyQuota: 10_000, dailyUploads: 3)
        for _ in 0..<3 { _ = try await three.reserve() }
        await #expect { try await three.reserve() } throws: { e in
            (e as? YouTubeQuotaExceededError)?.message.contains("3 of the day's 3 uploads (videos.insert)") == true
        }
        #expect(try await other.used(provider: "youtube", unit: "units", day: day) == 3 * cost)
    }

    /// The last chunk made the video but its answer was lost, and the job came back after the
    /// session was gone (YouTube keeps one about a week): the channel's uploads are asked first,
    /// the video found by its title and adopted, and nothing is uploaded again. A session whose
    /// last chunk never went is opened again without asking.
    @Test func aSessionGoneAfterItsLastChunkFindsTheVideoInsteadOfUploadingAgain() async throws {
        /// An attempt that gives up at its first failure, before asking the session where it stands.
        func noRetries(_ notes: Locked<[String: String]>) throws -> YouTubeDataAPIUploader {
            YouTubeDataAPIUploader(
                oauth: try oauth(), uploadBase: fake.base + "/upload", apiBase: fake.base, chunkSize: 256 << 10,
                metadata: { t, d, g in YouTubeMetadata(title: t, description: d, tags: g) }, notes: [:],
                save: { more in notes.update { $0.merge(more) { _, n in n } } }, backoff: [])
        }
        fake.state.update { $0.dropAfterCompleting = 1 }
        let notes = Locked<[String: String]>([:])
        await #expect(throws: YouTubeUploadError.self) { try await upload(noRetries(notes)) }
        #expect(fake.state.value.completed == 1 && notes.value["video_id"] == nil && notes.value["final_chunk_sent"] == "true")
        fake.expireSessions()
        let result = try await upload(uploader(try oauth(), notes: notes))
        #expect(result.videoID == "vid1" && notes.value["video_id"] == "vid1")
        #expect(fake.state.value.completed == 1 && fake.state.value.opened == 1, "uploaded again: \(fake.state.value.opened) sessions")
        #expect(fake.state.value.log.contains { $0.hasPrefix("GET /youtube/v3/playlistItems") })

        // Cut before the last chunk: no video can exist, so no lookup; a new session sends it all.
        fake.state.update { $0.dropChunks = 1; $0.log = [] }
        let notes2 = Locked<[String: String]>([:])
        await #expect(throws: YouTubeUploadError.self) { try await upload(noRetries(notes2)) }
        #expect(notes2.value["final_chunk_sent"] == "")
        fake.expireSessions()
        let second = try await upload(uploader(try oauth(), notes: notes2))
        #expect(second.videoID == "vid2" && fake.state.value.completed == 2 && fake.state.value.opened == 3)
        #expect(!fake.state.value.log.contains { $0.hasPrefix("GET /youtube/v3/playlistItems") })

        // A video of the same title added before this job's session opened is another job's: not taken.
        let later = Locked<[String: String]>([
            "session_uri": fake.base + "/upload/youtube/v3/videos?uploadType=resumable&upload_id=upload-gone",
            "final_chunk_sent": "true", "session_opened_at": Timestamp.string(Date().addingTimeInterval(600)),
        ])
        let third = try await upload(uploader(try oauth(), notes: later))
        #expect(third.videoID == "vid3" && fake.state.value.completed == 3)
        #expect(fake.state.value.log.contains { $0.hasPrefix("GET /youtube/v3/playlistItems") })
    }

    @Test func anExpiredSessionIsOpenedAgainWithoutASecondReservation() async throws {
        let original = try Data(contentsOf: video)
        let store = try SQLiteJobStore(path: dir.path("ledger.db"))
        let day = QuotaDay.youtube(Date())
        let quota = YouTubeQuota(ledger: store, channel: "facts", cost: 1650, dailyQuota: 10_000)
        let notes = Locked<[String: String]>([:])
        // The first attempt opens a session and gives up at a dropped chunk.
        fake.state.update { $0.dropChunks = 1 }
        let cut = YouTubeDataAPIUploader(
            oauth: try oauth(), uploadBase: fake.base + "/upload", apiBase: fake.base, chunkSize: 256 << 10,
            metadata: { t, d, g in YouTubeMetadata(title: t, description: d, tags: g) }, notes: [:],
            save: { more in notes.update { $0.merge(more) { _, n in n } } }, backoff: [], quota: quota)
        await #expect(throws: YouTubeUploadError.self) { try await upload(cut) }
        #expect(try await store.used(provider: "youtube", unit: "units", day: day) == 1650)
        // The session expires (404) before the retry, which opens a new one under the same reservation.
        fake.expireSessions()
        let result = try await upload(uploader(try oauth(), notes: notes, quota: quota))
        #expect(fake.state.value.opened == 2 && fake.state.value.videos[result.videoID] == original)
        #expect(fake.state.value.log.contains { $0.hasPrefix("PUT /upload/youtube/v3/videos bytes */716800") })
        #expect(try await store.used(provider: "youtube", unit: "units", day: day) == 1650)
    }

    @Test func aRefusedThumbnailLeavesThePublishedVideoAndAWarning() async throws {
        fake.state.update { $0.thumbnailsForbidden = true }
        let notes = Locked<[String: String]>([:])
        let warnings = Locked<[String]>([])
        let result = try await upload(uploader(try oauth(), notes: notes, warnings: warnings), thumbnail: thumb)
        #expect(fake.state.value.videos[result.videoID] != nil && fake.state.value.thumbnails.isEmpty)
        #expect(notes.value["video_id"] == result.videoID && notes.value["thumbnail_set"] == "false")
        let why = try #require(notes.value["thumbnail_error"])
        #expect(why.contains("HTTP 403") && why.contains("forbidden") && why.contains("custom video thumbnails"))
        #expect(warnings.value.count == 1 && warnings.value.first?.contains("\(result.videoID) is published, but its thumbnail was not set") == true)
        #expect(!why.contains("access-") && !why.contains("refresh-1"))
    }

    // MARK: - Captions

    /// The narration's subtitle file, as the compose stage writes it.
    func captionsFile() throws -> URL {
        let url = dir.url.appending(path: "captions.vtt")
        try Data("WEBVTT\n\n1\n00:00:00.000 --> 00:00:01.500\nThe lighthouse went dark.\n".utf8).write(to: url)
        return url
    }

    func captionRequests() -> Int { fake.state.value.log.filter { $0.hasPrefix("POST /upload/youtube/v3/captions") }.count }

    @Test func aSpanishChannelsVideoAndCaptionsAreMarkedSpanish() async throws {
        let notes = Locked<[String: String]>([:])
        let result = try await uploader(try oauth(), notes: notes, language: "es")
            .publish(video: video, title: "Por qué la miel nunca se echa a perder", description: "", tags: [], thumbnail: thumb, captions: try captionsFile())
        #expect(fake.state.value.captions[result.videoID]?.first?.language == "es")
        let snippet = try #require(fake.state.value.sessions.values.first { _ in true }?.metadata["snippet"] as? [String: Any])
        #expect(snippet["defaultLanguage"] as? String == "es" && snippet["defaultAudioLanguage"] as? String == "es")
    }

    @Test func theCaptionsGoUpAsOneNamedTrackAndARetryDoesNotSendThemAgain() async throws {
        let notes = Locked<[String: String]>([:])
        let vtt = try captionsFile()
        let result = try await uploader(try oauth(), notes: notes).publish(video: video, title: "T", description: "", tags: [], thumbnail: thumb, captions: vtt)
        let tracks = fake.state.value.captions[result.videoID] ?? []
        #expect(tracks.count == 1)
        #expect(tracks.first?.body == (try Data(contentsOf: vtt)) && tracks.first?.name == YouTubeDataAPIUploader.captionsTrackName)
        #expect(tracks.first?.language == "en" && tracks.first?.isDraft == false)
        #expect(notes.value["captions_id"] == tracks.first?.id && notes.value["captions_set"] == "true")
        // The publish stage run again with what it saved: nothing is sent twice.
        _ = try await uploader(try oauth(), notes: notes).publish(video: video, title: "T", description: "", tags: [], thumbnail: thumb, captions: vtt)
        #expect(fake.state.value.captions[result.videoID]?.count == 1 && captionRequests() == 1 && fake.state.value.videos.count == 1)
    }

    @Test func anInsertWhoseAnswerWasLostIsFoundByListingNotSentTwice() async throws {
        // The upload servers keep the track, then the connection drops before the answer.
        fake.state.update { $0.dropCaptionsAfterStoring = 1 }
        let notes = Locked<[String: String]>([:])
        let warnings = Locked<[String]>([])
        let vtt = try captionsFile()
        let result = try await uploader(try oauth(), notes: notes, warnings: warnings)
            .publish(video: video, title: "T", description: "", tags: [], thumbnail: nil, captions: vtt)
        #expect(fake.state.value.captions[result.videoID]?.count == 1 && captionRequests() == 1)
        #expect(notes.value["captions_id"] == fake.state.value.captions[result.videoID]?.first?.id && warnings.value.isEmpty)
        // A worker killed after saving `captions_started` and before any answer: the next attempt lists first.
        let crashed = Locked<[String: String]>(["video_id": result.videoID, "captions_started": "true"])
        _ = try await uploader(try oauth(), notes: crashed).publish(video: video, title: "T", description: "", tags: [], thumbnail: nil, captions: vtt)
        #expect(crashed.value["captions_id"] == notes.value["captions_id"] && captionRequests() == 1)
        #expect(fake.state.value.captions[result.videoID]?.count == 1)
    }

    @Test func refusedCaptionsLeaveThePublishedVideoAndAWarning() async throws {
        fake.state.update { $0.captionsForbidden = true }
        let notes = Locked<[String: String]>([:])
        let warnings = Locked<[String]>([])
        let result = try await uploader(try oauth(), notes: notes, warnings: warnings)
            .publish(video: video, title: "T", description: "", tags: [], thumbnail: thumb, captions: try captionsFile())
        #expect(fake.state.value.videos[result.videoID] != nil && fake.state.value.captions.isEmpty)
        #expect(notes.value["captions_set"] == "false" && notes.value["thumbnail_set"] == "true")
        let why = try #require(notes.value["captions_error"])
        #expect(why.contains("HTTP 403") && why.contains("forbidden") && !why.contains("access-"), "\(why)")
        #expect(warnings.value == ["video \(result.videoID) is published, but its captions were not added: \(why)"])
    }

    @Test func aGrantWithoutTheCaptionsScopeIsToldToAuthoriseAgainAndSendsNothing() async throws {
        // A grant made before captions were uploaded: the token endpoint names its scopes.
        fake.state.update { $0.grantedScope = "https://www.googleapis.com/auth/youtube.upload https://www.googleapis.com/auth/youtube.readonly" }
        let notes = Locked<[String: String]>([:])
        let warnings = Locked<[String]>([])
        let result = try await uploader(try oauth(), notes: notes, warnings: warnings)
            .publish(video: video, title: "T", description: "", tags: [], thumbnail: nil, captions: try captionsFile())
        #expect(fake.state.value.videos[result.videoID] != nil && captionRequests() == 0)
        #expect(notes.value["captions_set"] == "false" && notes.value["captions_error"]?.contains("run `ytauto auth youtube` again") == true)
        #expect(warnings.value.count == 1)
        // And `ytauto auth youtube` asks for it.
        #expect(YouTubeOAuth.scopes.contains("https://www.googleapis.com/auth/youtube.force-ssl"))
    }

    @Test func aRevokedGrantOrAWrongClientSaysWhatToDoInTheMessage() async throws {
        // A 401 for a freshly refreshed token: the grant was revoked after the token was issued.
        fake.state.update { $0.refuseAccessTokens = true }
        await #expect {
            try await upload(uploader(try oauth(), notes: Locked([:])))
        } throws: { error in
            guard let e = error as? YouTubeAuthError else { return false }
            return !e.isRetryable && e.message.contains("freshly refreshed") && e.message.contains("run `ytauto auth youtube`")
                && JobFailure(e).message.contains("run `ytauto auth youtube`") && !e.message.contains("access-")
        }
        // A client secret Google does not know: authorising again will not help; the credentials will.
        fake.state.update { $0.refuseAccessTokens = false }
        await #expect {
            try await upload(uploader(try oauth(secret: "wrong-secret"), notes: Locked([:])))
        } throws: { error in
            guard let e = error as? YouTubeAuthError else { return false }
            return e.message.contains("invalid_client") && e.message.contains("client id or secret is wrong")
                && e.message.contains("YOUTUBE_CLIENT_SECRET") && !e.message.contains("wrong-secret")
        }
    }

    // MARK: - The resumable protocol as Google's upload servers check it (issue 14)

    /// The fake itself refuses what Google refuses, so a client that broke a rule would fail here.
    @Test func theFakeRefusesWhatTheUploadServersRefuse() async throws {
        let token = try await oauth().accessToken()
        let http = HTTP(family: .youtube)
        let auth = [("Authorization", "Bearer \(token)")]
        // No `part`: 400 `required`.
        let noPart = try await http.send(.POST, fake.base + "/upload/youtube/v3/videos?uploadType=resumable", headers: auth + [
            ("Content-Type", "application/json; charset=UTF-8"), ("X-Upload-Content-Length", "716800")], body: Data("{}".utf8))
        #expect(noPart.status == 400 && Self.reasons(noPart) == ["required"], "\(noPart.errorText)")
        let opened = try await http.send(.POST, fake.base + "/upload/youtube/v3/videos?uploadType=resumable&part=snippet,status", headers: auth + [
            ("Content-Type", "application/json; charset=UTF-8"), ("X-Upload-Content-Length", "716800")], body: Data("{}".utf8))
        let session = try #require(opened.header("Location"))
        // A chunk that is not a multiple of 256 KiB (and not the last): 400 badRequest, nothing kept.
        let odd = Data(count: 300 << 10)
        let refused = try await http.send(.PUT, session, headers: auth + [("Content-Range", "bytes 0-\(odd.count - 1)/716800")], body: odd)
        #expect(refused.status == 400 && Self.reasons(refused) == ["badRequest"] && refused.errorText.contains("262144"))
        let first = Data((0..<(256 << 10)).map { UInt8(truncatingIfNeeded: $0) })
        let took = try await http.send(.PUT, session, headers: auth + [("Content-Range", "bytes 0-262143/716800")], body: first)
        #expect(took.status == 308 && took.header("Range") == "bytes=0-262143")
        // Past the declared total: the range does not parse.
        let past = try await http.send(.PUT, session, headers: auth + [("Content-Range", "bytes 524288-786431/716800")], body: first)
        #expect(past.status == 400)
        // A gap (starting past the 262,144 bytes the session has): refused, nothing kept.
        let gap = try await http.send(.PUT, session, headers: auth + [("Content-Range", "bytes 393216-655359/716800")], body: first)
        #expect(gap.status == 400 && Self.reasons(gap) == ["badRequest"] && gap.errorText.contains("exceeds already uploaded size of 262144"))
        #expect(fake.state.value.refusedGaps == 1 && fake.state.value.sessions.values.first?.received.count == 262144)
        // A replay that overlaps what the session has: taken from the session's end on.
        let replay = Data((131072..<(131072 + (256 << 10))).map { UInt8(truncatingIfNeeded: $0) })
        let overlap = try await http.send(.PUT, session, headers: auth + [("Content-Range", "bytes 131072-393215/716800")], body: replay)
        #expect(overlap.status == 308 && overlap.header("Range") == "bytes=0-393215")
        let kept = try #require(fake.state.value.sessions.values.first?.received)
        #expect(kept == Data((0..<393216).map { UInt8(truncatingIfNeeded: $0) }))
    }

    static func reasons(_ reply: HTTP.Reply) -> [String] {
        ((reply.json?["error"] as? [String: Any])?["errors"] as? [[String: Any]] ?? []).compactMap { $0["reason"] as? String }
    }

    /// A chunk size that is not a multiple of 256 KiB is rounded down to one, so YouTube takes every chunk.
    @Test func aChunkSizeOffTheGridIsRoundedToWhatYouTubeTakes() async throws {
        let notes = Locked<[String: String]>([:])
        let u = YouTubeDataAPIUploader(
            oauth: try oauth(), uploadBase: fake.base + "/upload", apiBase: fake.base, chunkSize: 300 << 10,
            metadata: { t, d, g in YouTubeMetadata(title: t, description: d, tags: g) }, notes: [:],
            save: { more in notes.update { $0.merge(more) { _, n in n } } }, backoff: [])
        let result = try await upload(u)
        #expect(fake.state.value.videos[result.videoID] == (try Data(contentsOf: video)))
        let puts = fake.state.value.log.filter { $0.hasPrefix("PUT") }
        #expect(puts.first == "PUT /upload/youtube/v3/videos bytes 0-262143/716800", "\(puts)")
    }
}
