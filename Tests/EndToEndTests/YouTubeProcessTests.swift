import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Testing
import YTAutoCore
import YTAutoStore
import YTAutoTestSupport
import YTAutoSupport

/// From authorisation to a published video, with real `ytauto` processes and a loopback YouTube.
@Suite(.serialized) struct YouTubeProcessTests {
    let dir = TempDir("ytauto-yt")
    var dbPath: String { dir.path("ytauto.db") }

    init() throws {
        // As `ytauto init` would: every command but init and migrate needs an existing database.
        _ = try SQLiteJobStore(path: dir.path("ytauto.db"))
    }
    var env: [String: String] {
        ["YTAUTO_DB": dbPath, "YTAUTO_CONFIG": dir.path("ytauto.yaml"),
         "YOUTUBE_CLIENT_ID": "client-id", "YOUTUBE_CLIENT_SECRET": "client-secret"]
    }

    func writeConfig(_ fake: FakeYouTube, dailyQuota: Int = 10_000) throws {
        try """
            output_dir: ./published
            work_dir: ./work
            providers:
              youtube:
                auth_url: \(fake.base)/auth
                token_url: \(fake.base)/token
                upload_base: \(fake.base)/upload
                api_base: \(fake.base)
                token_file: ./youtube-token.json
                daily_quota: \(dailyQuota)
                chunk_mib: 1
            channels:
              - name: facts
                format: short
                duration: {min: 2, max: 14}
                schedule: ["0 0 1 1 *"]
                publisher: youtube
            """.write(toFile: dir.path("ytauto.yaml"), atomically: true, encoding: .utf8)
    }

    /// Secrets of the loopback YouTube: the refresh token, the access tokens it issued, the client secret.
    static let secrets = ["refresh-1", "access-", "client-secret"]

    /// Every text value in every table of the database, as `table.column: value`: where a
    /// leaked secret would be, whichever table it went to.
    static func everyText(_ store: SQLiteJobStore) async throws -> [String] {
        try await store.database.read { db in
            var found: [String] = []
            let tables = try db.query("SELECT name FROM sqlite_master WHERE type = 'table'").compactMap { $0.string("name") }
            for table in tables {
                let columns = try db.query("SELECT name FROM pragma_table_info(?)", [table]).compactMap { $0.string("name") }
                for column in columns {
                    let quoted = "\"\(column.replacingOccurrences(of: "\"", with: "\"\""))\""
                    let rows = try db.query("SELECT CAST(\(quoted) AS TEXT) AS v FROM \"\(table)\" WHERE typeof(\(quoted)) IN ('text', 'blob')")
                    found += rows.compactMap { $0.string("v") }.map { "\(table).\(column): \($0)" }
                }
            }
            return found
        }
    }

    /// Checks that no secret is in any table of the database nor in `logs`; and that the search
    /// saw the tables it should, so it cannot pass by looking at nothing.
    static func expectNoSecrets(_ store: SQLiteJobStore, logs: [String], mustSee: [String], sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let texts = try await everyText(store)
        for table in ["jobs.", "job_stages.", "job_attempts.", "quota_ledger.", "job_stage_runs."] {
            #expect(texts.contains { $0.hasPrefix(table) }, "no text read from \(table)", sourceLocation: sourceLocation)
        }
        for seen in mustSee {
            #expect(texts.contains { $0.contains(seen) } || logs.contains { $0.contains(seen) }, "\(seen) is nowhere", sourceLocation: sourceLocation)
        }
        for secret in secrets {
            let leaks = texts.filter { $0.contains(secret) }
            #expect(leaks.isEmpty, "\(secret) in the database: \(leaks.prefix(3))", sourceLocation: sourceLocation)
            for log in logs {
                #expect(!log.contains(secret), "\(secret) in a worker's log", sourceLocation: sourceLocation)
            }
        }
    }

    /// `ytauto auth youtube`, with the test playing the browser: it reads the printed URL and
    /// opens the redirect with a code, as Google's consent page would.
    @Test func authYouTubeStoresTheRefreshTokenPrivately() async throws {
        let fake = try FakeYouTube()
        try writeConfig(fake)
        let outPath = dir.path("auth.out")
        FileManager.default.createFile(atPath: outPath, contents: nil)
        let process = try Child(binary("ytauto"), ["auth", "youtube", "--timeout", "60s"], cwd: dir.url, environment: env,
                                outputFile: outPath)
        var url: String?
        _ = await eventually(timeout: .seconds(30)) {
            let text = (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? ""
            url = text.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.first { $0.hasPrefix("http") && $0.contains("/auth?") }
            return url != nil
        }
        let printedURL = try #require(url)
        let items = try #require(URLComponents(string: printedURL)?.queryItems)
        func q(_ n: String) -> String? { items.first { $0.name == n }?.value }
        #expect(q("code_challenge_method") == "S256" && q("access_type") == "offline" && q("client_id") == "client-id")
        #expect(q("scope")?.contains("youtube.upload") == true)
        fake.state.update { $0.authCodes["code-1"] = "*" }
        let redirectURI = try #require(q("redirect_uri"))
        var redirect = try #require(URLComponents(string: redirectURI))
        redirect.queryItems = [.init(name: "code", value: "code-1"), .init(name: "state", value: q("state"))]
        let (body, _) = try await URLSession.shared.data(from: redirect.url!)
        #expect(String(decoding: body, as: UTF8.self).contains("Go back to the terminal"))
        #expect(await eventually(timeout: .seconds(20)) { !process.isRunning })
        #expect(process.waitForExit() == 0)
        var st = stat()
        #expect(stat(dir.path("youtube-token.json"), &st) == 0 && st.st_mode & 0o777 == 0o600)
        let stored = try String(contentsOfFile: dir.path("youtube-token.json"), encoding: .utf8)
        #expect(stored.contains("refresh-1"))
        let printed = try String(contentsOfFile: outPath, encoding: .utf8)
        #expect(printed.contains("authorised") && !printed.contains("refresh-1") && !printed.contains("access-1"))
        fake.shutdown()
    }

    @Test func aScheduledJobIsPublishedToYouTubeWithItsThumbnailAndTheLedgerUpdated() async throws {
        let fake = try FakeYouTube()
        try writeConfig(fake)
        // Authorised earlier (the auth command is tested on its own): a token file as it leaves one.
        try #"{"refresh_token":"refresh-1"}"#.write(toFile: dir.path("youtube-token.json"), atomically: true, encoding: .utf8)
        chmod(dir.path("youtube-token.json"), 0o600)
        // The scheduler makes the job for the slot of 2026-01-01 00:00 (New Year, once a year).
        for now in ["2025-12-31T23:59:00Z", "2026-01-01T00:00:30Z"] {
            let s = try await run("ytauto", ["scheduler", "--once", "--now", now], cwd: dir.url, environment: env)
            #expect(s.status == 0, "\(s.stderr)")
        }
        let store = try SQLiteJobStore(path: dbPath)
        let slots = try await store.slots(channel: "facts")
        let id = try #require(slots.first?.jobID)
        let w = try Child(binary("ytauto"), ["worker", "--concurrency", "1"], cwd: dir.url, environment: env)
        #expect(try await eventually(timeout: .seconds(600)) { try await store.job(id: id)?.state.isFinished == true })
        let job = try await store.job(id: id)
        #expect(job?.state == .succeeded, "\(job?.lastErrorCode ?? "") \(job?.lastErrorMessage ?? "")")
        let s = fake.state.value
        #expect(s.videos.count == 1 && s.sessions.count == 1)
        let (videoID, bytes) = try #require(s.videos.first)
        // The work folder went when the job succeeded; what was uploaded is what compose and thumbnail recorded.
        let stages = try await store.stages(jobID: id)
        let composed = try #require(stages.first { $0.stage == "compose" }?.artifacts.first { $0.path.hasSuffix("/video.mp4") })
        #expect(Checksum.sha256Hex(bytes) == composed.sha256 && Int64(bytes.count) == composed.bytes)
        let thumbnail = try #require(stages.first { $0.stage == "thumbnail" }?.artifacts.first)
        #expect(s.thumbnails[videoID].map { Checksum.sha256Hex($0) } == thumbnail.sha256)
        let publish = try #require(try await store.stages(jobID: id).first { $0.stage == "publish" })
        #expect(publish.notes["video_id"] == videoID && publish.notes["thumbnail_set"] == "true")
        // The QA gate's figures outlive the work folder, as the compose stage's notes.
        let qa = try #require(stages.first { $0.stage == "compose" }?.notes)
        #expect(abs((Double(qa["qa_lufs"] ?? "") ?? 0) + 14) <= 1 && (Double(qa["qa_true_peak_dbtp"] ?? "") ?? 0) <= -1
                && qa["qa_seconds"] != nil && qa["qa_caption_offset_ms"] != nil, "\(qa)")
        // The narration's captions, as one track: the subtitle file the compose stage recorded.
        let vtt = try #require(stages.first { $0.stage == "compose" }?.artifacts.first { $0.path.hasSuffix("/captions.vtt") })
        let tracks = s.captions[videoID] ?? []
        #expect(tracks.count == 1 && tracks.first.map { Checksum.sha256Hex($0.body) } == vtt.sha256)
        #expect(publish.notes["captions_set"] == "true" && publish.notes["captions_id"] == tracks.first?.id)
        // The ledger, on today's Pacific date: one insert of its own bucket, and the thumbnail's and
        // the captions' units (50 + 400) of the shared one.
        let quota = try await run("ytauto-admin", ["quota", "--json"], cwd: dir.url, environment: env)
        let rows = try #require(try JSONSerialization.jsonObject(with: Data(quota.stdout.utf8)) as? [[String: Any]])
        for (unit, amount) in [("uploads", 1), ("units", 450)] {
            let yt = rows.first { $0["provider"] as? String == "youtube" && $0["unit"] as? String == unit }
            #expect(yt?["amount"] as? Int == amount && yt?["channel"] as? String == "facts" && yt?["day"] as? String == QuotaDay.youtube(Date()),
                    "\(rows)")
        }
        w.kill(SIGTERM)
        let log = await w.wait()
        #expect(log.status == 0)
        // No secret reached the database (any table) or the worker's log.
        try await Self.expectNoSecrets(store, logs: [log.stdout, log.stderr], mustSee: [videoID, "upload_id="])
        fake.shutdown()
    }

    @Test func anUploadPastTheDailyQuotaIsParkedWithoutSpendingAnAttempt() async throws {
        let fake = try FakeYouTube()
        try writeConfig(fake, dailyQuota: 400)  // an upload's thumbnail and captions take 450
        try #"{"refresh_token":"refresh-1"}"#.write(toFile: dir.path("youtube-token.json"), atomically: true, encoding: .utf8)
        chmod(dir.path("youtube-token.json"), 0o600)
        let store = try SQLiteJobStore(path: dbPath)
        let id = try await store.enqueue(NewJob(channel: "facts", topic: "how honey never spoils", maxAttempts: 1)).job.id
        let w = try Child(binary("ytauto"), ["worker", "--concurrency", "1"], cwd: dir.url, environment: env)
        #expect(try await eventually(timeout: .seconds(600)) {
            try await store.job(id: id)?.lastErrorCode == "youtube.quota_exceeded"
        })
        let job = try #require(try await store.job(id: id))
        #expect(job.state == .queued && job.attempt == 0)  // parked, attempt refunded
        #expect(job.runAt > Date().addingTimeInterval(60))
        #expect(fake.state.value.sessions.isEmpty)  // nothing was sent
        w.kill(SIGTERM)
        #expect(await w.wait().status == 0)
        fake.shutdown()
    }

    /// A session that expires mid-upload (410), with a real worker: the attempt ends retryably,
    /// the job's next attempt opens a new session under the same reservation, and the channel
    /// gets one video for one upload's units.
    @Test func anUploadSessionThatExpiresIsStartedAgainUnderTheSameReservation() async throws {
        let fake = try FakeYouTube()
        try writeConfig(fake)
        try #"{"refresh_token":"refresh-1"}"#.write(toFile: dir.path("youtube-token.json"), atomically: true, encoding: .utf8)
        chmod(dir.path("youtube-token.json"), 0o600)
        fake.state.update { $0.injections = [.init(.expired(410), at: .chunk)] }
        let store = try SQLiteJobStore(path: dbPath)
        let id = try await store.enqueue(NewJob(channel: "facts", topic: "why the sea is salty", maxAttempts: 3)).job.id
        let w = try Child(binary("ytauto"), ["worker", "--concurrency", "1"], cwd: dir.url, environment: env)
        #expect(try await eventually(timeout: .seconds(600)) { try await store.job(id: id)?.state.isFinished == true })
        w.kill(SIGTERM)
        let log = await w.wait()
        let job = try #require(try await store.job(id: id))
        #expect(job.state == .succeeded && job.attempt == 2, "\(job.state) after \(job.attempt): \(job.lastErrorCode ?? "") \(job.lastErrorMessage ?? "")")
        let first = try #require(try await store.attempts(jobID: id).first)
        #expect(first.stage == "publish" && first.errorCode == "youtube.upload_failed" && first.errorMessage?.contains("expired") == true,
                "\(first.stage ?? "") \(first.errorCode ?? "") \(first.errorMessage ?? "")")
        let s = fake.state.value
        #expect(s.injected == ["chunk expired (HTTP 410)"] && s.opened == 2 && s.completed == 1)
        let videoID = try #require(s.videos.keys.first)
        let publish = try #require(try await store.stages(jobID: id).first { $0.stage == "publish" })
        #expect(publish.notes["video_id"] == videoID && publish.notes["session_uri"]?.hasSuffix("upload_id=upload-2") == true)
        #expect(try await store.used(provider: "youtube", unit: "units", day: QuotaDay.youtube(Date())) == 450)
        #expect(try await store.used(provider: "youtube", unit: "uploads", day: QuotaDay.youtube(Date())) == 1)
        try await Self.expectNoSecrets(store, logs: [log.stdout, log.stderr], mustSee: [videoID, "expired"])
        fake.shutdown()
    }

    /// A revoked grant tells the operator what to do everywhere they look (run-once, the job's
    /// error and attempts, the worker log) and costs no quota; once re-authorised, a channel not
    /// allowed custom thumbnails still gets its video published, with the refusal on record.
    @Test func aRevokedGrantSaysToAuthoriseAgainAndARefusedThumbnailStillPublishes() async throws {
        let fake = try FakeYouTube()
        try writeConfig(fake)
        try #"{"refresh_token":"refresh-1"}"#.write(toFile: dir.path("youtube-token.json"), atomically: true, encoding: .utf8)
        chmod(dir.path("youtube-token.json"), 0o600)
        fake.state.update { $0.revoked = true }
        let hint = "run `ytauto auth youtube`"

        let once = try await run("ytauto", ["run-once", "facts", "--topic", "why honey never spoils"], cwd: dir.url, environment: env)
        #expect(once.status != 0)
        #expect(once.stderr.contains(hint) && once.stderr.contains("invalid_grant"), "\(once.stdout)\n\(once.stderr)")
        let printed = try #require(once.stdout.split(separator: "\n").first { $0.hasPrefix("job ") && $0.contains(": channel") })
        let id = try #require(Int64(printed.dropFirst(4).prefix { $0.isNumber }))
        // One attempt, said so, with how to have a worker try again.
        #expect(once.stderr.contains("run-once gives a job one attempt and no automatic retry; `ytauto-admin retry \(id)` queues it again"),
                "\(once.stderr)")
        let store = try SQLiteJobStore(path: dbPath)
        let failed = try #require(try await store.job(id: id))
        #expect(failed.state == .failed && failed.lastErrorCode == "youtube.auth")
        #expect(failed.lastErrorMessage?.contains(hint) == true, "\(failed.lastErrorMessage ?? "")")
        #expect(try await store.attempts(jobID: id).last?.errorMessage?.contains(hint) == true)
        // The reservation taken before the refresh was given back: no units are used.
        #expect(try await store.used(provider: "youtube", unit: "units", day: QuotaDay.youtube(Date())) == 0)

        // A worker says it in its log.
        #expect(try await run("ytauto-admin", ["retry", String(id)], cwd: dir.url, environment: env).status == 0)
        let w = try Child(binary("ytauto"), ["worker", "--concurrency", "1"], cwd: dir.url, environment: env)
        #expect(try await eventually(timeout: .seconds(300)) {
            let j = try await store.job(id: id)
            return j?.state == .failed && j?.attempt == 2
        })
        w.kill(SIGTERM)
        let log = await w.wait()
        #expect(log.stderr.contains(hint) && log.stderr.contains("youtube.auth"), "\(log.stderr)")
        #expect(try await store.used(provider: "youtube", unit: "units", day: QuotaDay.youtube(Date())) == 0)

        // Re-authorised, on a channel YouTube does not allow custom thumbnails nor captions.
        fake.state.update { $0.revoked = false; $0.thumbnailsForbidden = true; $0.captionsForbidden = true }
        #expect(try await run("ytauto-admin", ["retry", String(id)], cwd: dir.url, environment: env).status == 0)
        let w2 = try Child(binary("ytauto"), ["worker", "--concurrency", "1"], cwd: dir.url, environment: env)
        #expect(try await eventually(timeout: .seconds(300)) { try await store.job(id: id)?.state.isFinished == true })
        let job = try #require(try await store.job(id: id))
        #expect(job.state == .succeeded, "\(job.lastErrorCode ?? "") \(job.lastErrorMessage ?? "")")
        let videoID = try #require(fake.state.value.videos.keys.first)
        #expect(fake.state.value.thumbnails.isEmpty)
        let publish = try #require(try await store.stages(jobID: id).first { $0.stage == "publish" })
        #expect(publish.state == .succeeded && publish.notes["video_id"] == videoID && publish.notes["thumbnail_set"] == "false")
        #expect(publish.notes["thumbnail_error"]?.contains("forbidden") == true)
        let show = try await run("ytauto-admin", ["show", String(id)], cwd: dir.url, environment: env)
        #expect(show.stdout.contains("the video is published but its thumbnail was not set: youtube.upload_failed: thumbnails.set refused: HTTP 403 forbidden"),
                "\(show.stdout)")
        #expect(show.stdout.contains("the video is published but its captions were not added: youtube.upload_failed: captions.insert refused: HTTP 403 forbidden"),
                "\(show.stdout)")
        #expect(publish.notes["captions_set"] == "false" && fake.state.value.captions.isEmpty)
        w2.kill(SIGTERM)
        let log2 = await w2.wait()
        #expect(log2.stderr.contains("\(videoID) is published, but its thumbnail was not set"), "\(log2.stderr)")
        #expect(log2.stderr.contains("\(videoID) is published, but its captions were not added"), "\(log2.stderr)")
        #expect(try await store.used(provider: "youtube", unit: "units", day: QuotaDay.youtube(Date())) == 450)
        #expect(try await store.used(provider: "youtube", unit: "uploads", day: QuotaDay.youtube(Date())) == 1)
        // The refusals went into the job's errors, attempts and logs; no secret did.
        try await Self.expectNoSecrets(store, logs: [once.stdout, once.stderr, log.stderr, log2.stderr], mustSee: ["invalid_grant", videoID])
        fake.shutdown()
    }
}
