import AsyncHTTPClient
import NIOSSL
import Foundation
import NIOCore
import NIOHTTP1
import Testing
import YTAutoCore
import YTAutoTestSupport
@testable import YTAutoPostgres
@testable import YTAutoStore

/// `ytauto web` as a browser and a script use it, over HTTP against the real process, on each
/// engine: pages answer and escape what they show, actions need the page's CSRF token and are
/// audited, bulk actions ask first and say how many, files are served only as recorded
/// artifacts (with ranges), the job list pages by keyset.
@Suite struct WebConsoleTests {
    let dir = TempDir("ytauto-web")

    struct Console {
        let child: Child
        let base: String
        /// One client for the whole run (never shut down, so a failed test cannot leave one to crash in its deinit).
        static let sharedClient = HTTPClient(eventLoopGroupProvider: .singleton, configuration: .init(redirectConfiguration: .disallow))
        var client: HTTPClient { Self.sharedClient }

        struct Reply {
            var status: Int
            var headers: [String: String]
            var body: String
            var bytes: [UInt8]
        }

        func get(_ path: String, headers: [(String, String)] = []) async throws -> Reply {
            try await send("GET", path, headers: headers, body: nil)
        }

        func post(_ path: String, form: [(String, String)], cookie: String?) async throws -> Reply {
            var c = URLComponents()
            c.queryItems = form.map { URLQueryItem(name: $0.0, value: $0.1) }
            let body = (c.percentEncodedQuery ?? "").replacingOccurrences(of: "+", with: "%2B")
            var headers = [("Content-Type", "application/x-www-form-urlencoded")]
            if let cookie { headers.append(("Cookie", cookie)) }
            return try await send("POST", path, headers: headers, body: body)
        }

        func send(_ method: String, _ path: String, headers: [(String, String)], body: String?) async throws -> Reply {
            var request = HTTPClientRequest(url: base + path)
            request.method = .init(rawValue: method)
            for (k, v) in headers { request.headers.add(name: k, value: v) }
            if let body { request.body = .bytes(ByteBuffer(string: body)) }
            let response = try await client.execute(request, timeout: .seconds(30))
            var buffer = try await response.body.collect(upTo: 64 << 20)
            let bytes = buffer.readBytes(length: buffer.readableBytes) ?? []
            var h: [String: String] = [:]
            for field in response.headers { h[field.name.lowercased()] = field.value }
            return Reply(status: Int(response.status.code), headers: h, body: String(decoding: bytes, as: UTF8.self), bytes: bytes)
        }

        /// The console's CSRF cookie and token, as a browser gets them with a page.
        /// A browser's token cookie (as a `Cookie` header's pair) and the form token its pages carry.
        func session() async throws -> (cookie: String, token: String) {
            // The channels page has a form for each channel.
            let page = try await get("/channels")
            let setCookie = try #require(page.headers["set-cookie"], "the page set no CSRF cookie")
            let pair = String(setCookie.split(separator: ";")[0])
            return (pair, try #require(Self.formToken(in: page.body), "the page carries no form token"))
        }

        /// The form token in a page's forms (`name="csrf" value="…"`).
        static func formToken(in page: String) -> String? {
            guard let start = page.range(of: "name=\"csrf\" value=\"") else { return nil }
            let rest = page[start.upperBound...]
            return rest.firstIndex(of: "\"").map { String(rest[..<$0]) }
        }

        func stop() async throws {
            child.kill(SIGTERM)
            #expect(await child.wait().status == 0)
        }
    }

    func start(_ engine: ProcessEngine, host: String = "127.0.0.1", probe: [(String, String)] = []) async throws -> (Console, any ConsoleStore, String) {
        let location = try await engine.location(dir)
        let store = try #require(try await ProcessEngine.open(location) as? any ConsoleStore)
        try """
            channels:
              - name: facts
                type: facts
                topics: ["<b>bold</b> & <script>alert('topic')</script>"]
              - name: odd.night_2
                type: horror
                schedule: ["0 18 * * *", "0 18 * * 1-5"]
                time_zone: UTC
            """.write(toFile: dir.path("ytauto.yaml"), atomically: true, encoding: .utf8)
        let port = try PostgresServer.freePort()
        let child = try Child(binary("ytauto"), ["web", "--listen", "\(host):\(port)"], cwd: dir.url,
                              environment: ["YTAUTO_DB": location, "YTAUTO_CONFIG": dir.path("ytauto.yaml")])
        let console = Console(child: child, base: "http://127.0.0.1:\(port)")
        let up = await eventually(timeout: .seconds(30)) { (try? await console.get("/api/overview", headers: probe).status) == 200 }
        if !up { child.kill(SIGKILL); Issue.record("the console did not answer: \(await child.wait().stderr)") }
        try #require(up)
        return (console, store, location)
    }

    /// The configuration edited while the console runs is said within seconds (the console keeps
    /// the channels it started with), and the console still stops on SIGTERM.
    @Test func anEditedConfigurationIsSaidAndTheConsoleStillStops() async throws {
        let location = try await ProcessEngine.sqlite.location(dir)
        _ = try await ProcessEngine.open(location)
        let config = "channels:\n  - name: facts\n"
        try config.write(toFile: dir.path("ytauto.yaml"), atomically: true, encoding: .utf8)
        let log = dir.path("web.log")
        let port = try PostgresServer.freePort()
        let web = try Child(binary("ytauto"), ["web", "--listen", "127.0.0.1:\(port)"], cwd: dir.url,
                            environment: ["YTAUTO_DB": location, "YTAUTO_CONFIG": dir.path("ytauto.yaml")], outputFile: log)
        defer { web.kill(SIGKILL) }
        func logged(_ text: String) async -> Bool { await eventually(file: log, contains: text) }
        #expect(await logged("listening on http://127.0.0.1:\(port)/"))
        try (config + "    type: horor\n").write(toFile: dir.path("ytauto.yaml"), atomically: true, encoding: .utf8)
        #expect(await logged("changed on disk and would not load: "))
        #expect(await logged("'horor' is not a channel type"))
        web.kill(SIGTERM)
        let stopped = await web.wait(atMost: .seconds(30))
        #expect(stopped.exitedInTime, "the console did not stop")
        #expect(stopped.result.status == 0)
    }

    /// A job that failed for good with `code`.
    func failed(_ s: any OperatorStore, channel: String = "facts", topic: String, code: String = "provider.rate_limited") async throws -> Int64 {
        let id = try await s.enqueue(NewJob(channel: channel, topic: topic, maxAttempts: 1)).job.id
        let lease = try #require(try await s.lease(worker: "w", channels: nil, kind: .video, pipeline: nil, duration: .seconds(60), only: id))
        _ = try await s.fail(lease, error: JobFailure(code: code, message: "429 <too many>", isRetryable: false))
        return id
    }

    @Test(arguments: ProcessEngine.all) func everyPageAnswersAndShowsStringsAsText(engine: ProcessEngine) async throws {
        // 256 KB in the stock footage cache (`work` is the configuration's default work_dir).
        try FileManager.default.createDirectory(atPath: dir.path("work/stock/pexels"), withIntermediateDirectories: true)
        try Data(repeating: 9, count: 256 << 10).write(to: dir.url.appending(path: "work/stock/pexels/clip-1-1080x1920.mp4"))
        let (console, store, location) = try await start(engine)
        defer { console.child.kill(SIGKILL) }
        let xss = "<script>alert(1)</script>"
        let id = try await failed(store, topic: xss, code: "<img src=x onerror=alert(2)>")
        _ = try await store.enqueue(NewJob(channel: "<i>odd</i>", topic: "\"quoted\" & 'single'"))
        for path in ["/", "/jobs", "/jobs?state=failed", "/jobs/\(id)", "/channels", "/workers", "/audit"] {
            let page = try await console.get(path)
            #expect(page.status == 200, "\(path): \(page.status) \(page.body)")
            #expect(page.headers["content-type"]?.hasPrefix("text/html") == true)
            // Nothing from the store or the configuration became markup.
            for raw in [xss, "<img src=x", "<i>odd</i>", "<b>bold</b>", "<script>alert('topic')", "<too many>"] {
                #expect(!page.body.contains(raw), "\(path) shows \(raw) as markup")
            }
        }
        #expect(try await console.get("/jobs/\(id)").body.contains("&lt;script&gt;alert(1)&lt;/script&gt;"))
        #expect(try await console.get("/channels").body.contains("&lt;b&gt;bold&lt;/b&gt; &amp; &lt;script&gt;"))
        #expect(try await console.get("/jobs").body.contains("&quot;quoted&quot; &amp; &#39;single&#39;"))
        // The API: the CLI's JSON shapes; a bad filter is a 400 that says why.
        let api = try await console.get("/api/jobs?state=failed")
        let jobs = try #require(try JSONSerialization.jsonObject(with: Data(api.bytes)) as? [[String: Any]])
        #expect(jobs.map { $0["id"] as? Int } == [Int(id)])
        #expect(jobs.first?["error_code"] as? String == "<img src=x onerror=alert(2)>")
        let bad = try await console.get("/api/jobs?state=lost")
        #expect(bad.status == 400 && bad.body.contains("state 'lost' is not one of"))
        // A code of another shape is refused as `list-failed --code` refuses it (it answered []).
        let badCode = try await console.get("/api/jobs?code=Work%20Stuck")
        #expect(badCode.status == 400 && badCode.body.contains("code 'Work Stuck' is not an error code"), "\(badCode.status) \(badCode.body)")
        #expect(try await console.get("/jobs?code=work.stuk").status == 200, "a code of the right shape that no job has is no error")
        // A mistyped channel is refused naming the known ones (it answered []); a known channel with no jobs is [].
        let typo = try await console.get("/api/jobs?channel=fatcs")
        #expect(typo.status == 400 && typo.body.contains("no channel named 'fatcs'"), "\(typo.status) \(typo.body)")
        // The page too (it showed "no jobs match" under a channel list saying "any").
        let typoPage = try await console.get("/jobs?channel=fatcs")
        #expect(typoPage.status == 400 && typoPage.body.contains("no channel named &#39;fatcs&#39;"), "\(typoPage.status) \(typoPage.body)")
        // A NUL cut the pattern short and matched every job: a filter with a control character is refused.
        let nul = try await console.get("/api/jobs?q=%00zzz")
        #expect(nul.status == 400 && nul.body.contains("q must be one line of visible text; it has U+0000"), "\(nul.status) \(nul.body)")
        // A filter given twice is refused (one of the two was taken); spaces around a filter are not part of it.
        let twice = try await console.get("/api/jobs?state=failed&state=queued")
        #expect(twice.status == 400 && twice.body.contains("state is given 2 times"), "\(twice.status) \(twice.body)")
        let spaced = try await console.get("/api/jobs?state=%20failed%20&channel=facts%20")
        let spacedJobs = try JSONSerialization.jsonObject(with: Data(spaced.bytes)) as? [[String: Any]]
        #expect(spaced.status == 200 && spacedJobs?.map { $0["id"] as? Int } == [Int(id)], "\(spaced.status) \(spaced.body)")
        let none = try await console.get("/api/jobs?q=zzz")
        let noneList = try JSONSerialization.jsonObject(with: Data(none.bytes)) as? [Any]
        #expect(none.status == 200 && noneList?.isEmpty == true, "\(none.status) \(none.body)")
        #expect(try await console.get("/jobs/999999").status == 404)
        // Slots of a channel that is nowhere: a 400 naming it, as /api/jobs (it answered []); of a
        // configured one: its slots; an empty channel is no filter, as for /api/jobs (it was "no channel named ''").
        let nowhere = try await console.get("/api/slots?channel=nosuch")
        #expect(nowhere.status == 400 && nowhere.body.contains("no channel named 'nosuch'"), "\(nowhere.status) \(nowhere.body)")
        let anyChannel = try await console.get("/api/slots?channel=")
        #expect(anyChannel.status == 200 && anyChannel.body.hasPrefix("["), "\(anyChannel.status) \(anyChannel.body)")
        let known = try await console.get("/api/slots?channel=facts")
        #expect(known.status == 200 && known.body.hasPrefix("["), "\(known.status) \(known.body)")
        // Today's quota, each provider by its ledger's own day; yesterday's is not today's.
        let now = Date()
        try await store.record(provider: "youtube", channel: "facts", unit: "units", amount: 1600, day: QuotaDay.youtube(now))
        try await store.record(provider: "openai", channel: "facts", unit: "tokens", amount: 42, day: QuotaDay.utc(now))
        try await store.record(provider: "openai", channel: "facts", unit: "tokens", amount: 7, day: QuotaDay.utc(now.addingTimeInterval(-86_400)))
        let metrics = try await console.get("/metrics")
        let quota = metrics.body.split(separator: "\n").filter { $0.hasPrefix("ytauto_quota_used{") }
        #expect(quota.count == 2 && quota.contains { $0.contains("provider=\"youtube\"") && $0.hasSuffix(" 1600.0") }
                && quota.contains { $0.contains("provider=\"openai\"") && $0.hasSuffix(" 42.0") }, "\(quota)")
        #expect(metrics.body.contains("ytauto_jobs{channel=\"facts\",state=\"failed\"} 1.0"), "\(metrics.body)")
        #expect(metrics.body.contains("ytauto_attempts_last_24h{outcome=\"failed\"} 1.0"), "\(metrics.body)")
        // The stock cache apart from the work folder it is part of, so a sum over `folder` counts it once.
        func gauge(_ prefix: String) -> Double? {
            metrics.body.split(separator: "\n").first { $0.hasPrefix(prefix) }.flatMap { Double($0.split(separator: " ").last ?? "") }
        }
        let stock = try #require(gauge("ytauto_stock_cache_bytes "), "\(metrics.body)")
        let work = try #require(gauge("ytauto_disk_bytes{folder=\"work\"}"), "\(metrics.body)")
        #expect(stock >= 256 * 1024 && stock < work, "the cache's bytes, within the work folder's: \(stock) of \(work)")
        #expect(try await console.get("/").body.contains("(stock footage 2"), "the overview says what the stock cache takes")
        // Lease wait: a job made and due two minutes before a worker took it waited about 120 s
        // (made through a store whose clock is two minutes behind). A job made now with a past
        // run_at waited for no worker: it is due from when it was made.
        let earlier = try await ProcessEngine.open(location, clock: { Date().addingTimeInterval(-120) })
        let late = try await earlier.enqueue(NewJob(channel: "facts", topic: "late")).job.id
        earlier.close()
        _ = try await store.lease(worker: "w", channels: nil, kind: .video, pipeline: nil, duration: .seconds(60), only: late)
        let body = try await console.get("/metrics").body
        let waits = body.split(separator: "\n").filter { $0.hasPrefix("ytauto_lease_wait_seconds_last_24h") }
        func bucket(_ le: String) -> String? { waits.first { $0.hasPrefix("ytauto_lease_wait_seconds_last_24h{le=\"\(le)\"}") }.map(String.init) }
        #expect(bucket("+Inf")?.hasSuffix(" 2.0") == true, "\(waits)")
        #expect(bucket("60.0")?.hasSuffix(" 1.0") == true && bucket("300.0")?.hasSuffix(" 2.0") == true && bucket("0.01") != nil, "\(waits)")
        // Gauges over a window, not histograms, whose counters must never fall (these do, as the
        // window moves and prune deletes); every stage is there before its first run.
        #expect(body.contains("# TYPE ytauto_lease_wait_seconds_last_24h gauge") && body.contains("# TYPE ytauto_stage_duration_seconds_last_24h gauge"),
                "\(body)")
        #expect(!body.split(separator: "\n").contains { $0.hasPrefix("# TYPE ") && $0.hasSuffix(" histogram") }, "\(body)")
        #expect(body.contains("ytauto_stage_duration_seconds_last_24h{stage=\"publish\",le=\"+Inf\"} 0.0"), "\(body)")
        try await console.stop()
    }

    /// The console frees the jobs of dead workers and expired leases before it shows them, as
    /// `ytauto status` does: with no worker or scheduler left, /metrics and the overview showed a
    /// dead worker's job running for ever.
    @Test(arguments: ProcessEngine.all) func aJobWhoseLeaseExpiredIsFreedBeforeItIsShown(engine: ProcessEngine) async throws {
        let (console, store, _) = try await start(engine)
        defer { console.child.kill(SIGKILL) }
        let id = try await store.enqueue(NewJob(channel: "facts", topic: "left behind")).job.id
        _ = try #require(try await store.lease(worker: "gone", channels: nil, kind: .video, pipeline: nil, duration: .seconds(1), only: id))
        try await Task.sleep(for: .milliseconds(1500))  // the lease expires; no worker is there to notice
        let metrics = try await console.get("/metrics")
        #expect(metrics.body.contains("ytauto_jobs{channel=\"facts\",state=\"running\"} 0.0")
                && metrics.body.contains("ytauto_jobs{channel=\"facts\",state=\"queued\"} 1.0"), "\(metrics.body)")
        #expect(try await store.job(id: id)?.state == .queued)
        #expect(try await store.attempts(jobID: id).first?.outcome == .lost)
    }

    @Test(arguments: ProcessEngine.all) func actionsNeedThePagesTokenAndAreAudited(engine: ProcessEngine) async throws {
        let (console, store, location) = try await start(engine)
        defer { console.child.kill(SIGKILL) }
        let id = try await failed(store, topic: "retry me")
        // No token, a wrong one, or a token without its cookie: refused, and nothing changes.
        let (cookie, token) = try await console.session()
        // The cookie's own value as the token, or a cookie another server of this host planted with
        // its value as the token (cookies do not keep ports apart): neither is the page's token.
        let cookieValue = String(cookie.split(separator: "=")[1])
        let planted = "ytauto_csrf=0123456789abcdef0123456789abcdef"
        for (form, c) in [([(String, String)](), cookie), ([("csrf", "0123456789abcdef0123456789abcdef")], cookie), ([("csrf", token)], nil),
                          ([("csrf", cookieValue)], cookie), ([("csrf", "0123456789abcdef0123456789abcdef")], planted)] {
            let refused = try await console.post("/jobs/\(id)/retry", form: form, cookie: c)
            #expect(refused.status == 403, "\(refused.status) \(refused.body)")
        }
        // A field given twice (it was read as its last value): refused, whatever the token.
        let twice = try await console.post("/jobs/\(id)/retry", form: [("csrf", token), ("csrf", token)], cookie: cookie)
        #expect(twice.status == 400 && twice.body.contains("the form gives csrf twice"), "\(twice.status) \(twice.body)")
        #expect(try await store.job(id: id)?.state == .failed)
        #expect(try await store.auditLog(limit: 10).isEmpty)
        // With the page's token: done, redirected back to the job, and recorded.
        let done = try await console.post("/jobs/\(id)/retry", form: [("csrf", token)], cookie: cookie)
        let retriedPage = try #require(done.headers["location"], "\(done.status)")
        #expect(done.status == 303 && retriedPage.hasPrefix("/jobs/\(id)?done=retried&seal="), "\(retriedPage)")
        // The page shows the notice it was sent retriedPage with, and no other: a link of anyone's
        // making showed its own text as the console's word.
        #expect(try await console.get(retriedPage).body.contains("<p class=\"notice\">retried</p>"))
        let forged = try await console.get("/jobs/\(id)?done=Job%20deleted%20permanently")
        #expect(forged.status == 200 && !forged.body.contains("Job deleted permanently"), "a forged notice was shown")
        let reSealed = try await console.get(retriedPage.replacingOccurrences(of: "done=retried", with: "done=deleted"))
        #expect(!reSealed.body.contains("class=\"notice\""), "another notice's seal was taken")
        #expect(try await store.job(id: id)?.state == .queued)
        let cancel = try await console.post("/jobs/\(id)/cancel", form: [("csrf", token)], cookie: cookie)
        #expect(cancel.status == 303)
        #expect(try await store.job(id: id)?.state == .cancelled)
        // Cancelled again: nothing to do, said in words (it read `alreadyFinished(YTAutoCore.JobState.cancelled)`),
        // and refused with a 409 as a retry in the wrong state is (it was a 303 to a notice, read as done).
        let again = try await console.post("/jobs/\(id)/cancel", form: [("csrf", token)], cookie: cookie)
        #expect(again.status == 409 && again.body.contains("job \(id): already finished (cancelled); nothing to cancel"), "\(again.status) \(again.body)")
        var log = try await store.auditLog(limit: 10)
        #expect(log.first?.detail == "refused: already finished (cancelled); nothing to cancel" && log[1].detail == "cancelled", "\(log.map(\.detail))")
        log.removeFirst()
        #expect(log.map(\.action) == ["cancel", "retry"])
        #expect(log.allSatisfy { $0.target == "job \(id)" && $0.actor == "web (loopback)" })
        #expect(try await console.get("/audit").body.contains("job \(id)"))
        // A retry the store refuses (a running job) is a 409 that says why, and is audited as refused.
        let running = try await store.enqueue(NewJob(channel: "facts", topic: "busy")).job.id
        _ = try await store.lease(worker: "w", channels: nil, kind: .video, pipeline: nil, duration: .seconds(60), only: running)
        let conflict = try await console.post("/jobs/\(running)/retry", form: [("csrf", token)], cookie: cookie)
        #expect(conflict.status == 409, "\(conflict.status) \(conflict.body)")
        #expect(try await store.auditLog(limit: 1).first?.detail?.hasPrefix("refused") == true)
        // ytauto-admin's steering commands are recorded too, and `audit` lists the log.
        let env = ["YTAUTO_DB": location, "USER": "operator1"]
        let cancelled = try await run("ytauto-admin", ["cancel", String(running)], cwd: dir.url, environment: env)
        #expect(cancelled.status == 0, "\(cancelled.stderr)")
        let listed = try await run("ytauto-admin", ["audit", "--json", "--limit", "2"], cwd: dir.url, environment: env)
        let rows = try #require(try JSONSerialization.jsonObject(with: Data(listed.stdout.utf8)) as? [[String: Any]], "\(listed.stderr)")
        #expect(rows.map { $0["action"] as? String } == ["cancel", "retry"])
        #expect(rows.first?["actor"] as? String == "cli:operator1" && rows.first?["target"] as? String == "job \(running)")
        // An action on a job that does not exist is a 404 (it was a 500 for a cancel), audited as refused.
        for action in ["cancel", "retry", "approve"] {
            let missing = try await console.post("/jobs/999999/\(action)", form: [("csrf", token)], cookie: cookie)
            #expect(missing.status == 404, "\(action): \(missing.status) \(missing.body)")
            let entry = try await store.auditLog(limit: 1).first
            #expect(entry?.action == action && entry?.target == "job 999999" && entry?.detail?.hasPrefix("refused") == true, "\(String(describing: entry))")
        }
        // ytauto-admin's refusals are recorded as the console's are.
        let refusedByCLI = try await run("ytauto-admin", ["cancel", "999999"], cwd: dir.url, environment: env)
        #expect(refusedByCLI.status == 1 && refusedByCLI.stderr.contains("does not exist"), "\(refusedByCLI.stderr)")
        let last = try await store.auditLog(limit: 1).first
        #expect(last?.actor == "cli:operator1" && last?.action == "cancel" && last?.target == "job 999999"
                && last?.detail?.hasPrefix("refused") == true, "\(String(describing: last))")
        // So is a resume of a channel that is not paused.
        let notPaused = try await run("ytauto-admin", ["resume", "facts"], cwd: dir.url, environment: env)
        #expect(notPaused.status == 1 && notPaused.stderr.contains("is not paused"), "\(notPaused.stderr)")
        let resumeEntry = try await store.auditLog(limit: 1).first
        #expect(resumeEntry?.action == "resume" && resumeEntry?.target == "channel facts" && resumeEntry?.detail?.hasPrefix("refused") == true,
                "\(String(describing: resumeEntry))")
        try await console.stop()
    }

    /// The channels page pauses, resumes and runs a channel now, by name (a name whose `.` and `_`
    /// are percent-encoded in the path too), each with the page's token and audited; a channel the
    /// configuration lacks is a 404. (A configured name cannot hold markup; a job's channel from the
    /// store is shown as text, above.)
    @Test(arguments: ProcessEngine.all) func channelsArePausedResumedAndRunFromTheConsole(engine: ProcessEngine) async throws {
        let (console, store, _) = try await start(engine)
        defer { console.child.kill(SIGKILL) }
        let (cookie, token) = try await console.session()
        let odd = "odd.night_2"
        let oddPath = "/channels/" + (odd.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")
        let page = try await console.get("/channels")
        // Two expressions firing at 18:00 on weekdays: one slot each, as the scheduler makes them.
        let nextSlots = page.body.components(separatedBy: "next slots: ").dropFirst().map { $0.prefix { $0 != "<" }.components(separatedBy: " · ") }
        #expect(nextSlots.count == 2 && nextSlots.allSatisfy { $0.count == 5 && Set($0).count == 5 }, "\(nextSlots)")
        #expect(oddPath == "/channels/odd%2Enight%5F2")
        #expect(page.body.contains("action=\"\(oddPath)/pause\""), "the page's form for a channel whose name is encoded in the path")
        #expect(try await console.post("/channels/facts/pause", form: [], cookie: cookie).status == 403)
        #expect(try await store.pausedChannels().isEmpty)

        for path in ["/channels/facts/pause", oddPath + "/pause"] {
            let done = try await console.post(path, form: [("csrf", token)], cookie: cookie)
            #expect(done.status == 303 && done.headers["location"]?.hasPrefix("/channels?done=paused") == true, "\(path): \(done.status) \(done.body)")
        }
        #expect(try await store.pausedChannels().map(\.channel).sorted() == [odd, "facts"].sorted())
        #expect(try await store.pausedChannels().allSatisfy { $0.pausedBy == "web (loopback)" })
        let paused = try await console.get("/channels")
        #expect(paused.body.contains("id=\"resume-facts\"") && !paused.body.contains("id=\"pause-facts\""))
        #expect(try await console.get("/").body.contains("state-paused"))

        // Run now: a job due now, with the next topic, even while paused (it waits for the resume).
        let run = try await console.post("/channels/facts/run-now", form: [("csrf", token)], cookie: cookie)
        let location = try #require(run.headers["location"], "\(run.status) \(run.body)")
        let id = try #require(Int64(location.dropFirst("/jobs/".count).prefix { $0.isNumber }))
        // It says the job waits for the resume (it said only "queued").
        #expect(location.contains("done=queued;%20channel%20facts%20is%20paused"), "\(location)")
        let job = try #require(try await store.job(id: id))
        #expect(job.channel == "facts" && job.state == .queued && job.topic == "<b>bold</b> & <script>alert('topic')</script>")
        #expect(try await store.lease(worker: "w", channels: nil, kind: .video, pipeline: nil, duration: .seconds(60)) == nil)
        // Its page says why it waits (it said only "queued", due a minute ago), and not once resumed.
        let waiting = try await console.get("/jobs/\(id)")
        #expect(waiting.body.contains("id=\"paused\"") && waiting.body.contains("this job waits until the channel is resumed")
                && waiting.body.contains("href=\"/channels#channel-facts\""), "\(waiting.body)")

        let resumed = try await console.post("/channels/facts/resume", form: [("csrf", token)], cookie: cookie)
        #expect(resumed.status == 303)
        #expect(try await !console.get("/jobs/\(id)").body.contains("id=\"paused\""))
        #expect(try await store.pausedChannels().map(\.channel) == [odd])
        #expect(try await store.lease(worker: "w", channels: nil, kind: .video, pipeline: nil, duration: .seconds(60))?.jobID == id)
        let log = try await store.auditLog(limit: 10)
        #expect(log.map(\.action) == ["resume", "run-now", "pause", "pause"], "\(log)")
        // A channel no configuration names: a 404 naming the known ones, audited as refused (it was not audited).
        let nope = try await console.post("/channels/nope/pause", form: [("csrf", token)], cookie: cookie)
        #expect(nope.status == 404 && nope.body.contains("no channel named &#39;nope&#39; in the configuration (channels: facts, odd.night_2)"), "\(nope.body)")
        let refusedNope = try #require(try await store.auditLog(limit: 1).first)
        #expect(refusedNope.action == "pause" && refusedNope.target == "channel nope" && refusedNope.detail?.hasPrefix("refused: no channel named 'nope'") == true,
                "\(refusedNope)")
        #expect(log.map(\.target).contains("channel \(odd)"))
        // Resumed again (a second tab): nothing to do, refused with 409 saying so (a redirect to the
        // page said nothing), and audited as refused.
        let again = try await console.post("/channels/facts/resume", form: [("csrf", token)], cookie: cookie)
        #expect(again.status == 409 && again.body.contains("channel facts was not resumed: it is not paused"), "\(again.status) \(again.body)")
        let last = try #require(try await store.auditLog(limit: 1).first)
        #expect(last.action == "resume" && last.target == "channel facts" && last.detail == "refused: not paused")
        // Paused again while paused: the same, for pause.
        let oddPaused = try await console.post(oddPath + "/pause", form: [("csrf", token)], cookie: cookie)
        #expect(oddPaused.status == 409 && oddPaused.body.contains("is already paused since "), "\(oddPaused.status) \(oddPaused.body)")
        let lastPause = try #require(try await store.auditLog(limit: 1).first)
        #expect(lastPause.action == "pause" && lastPause.target == "channel \(odd)" && lastPause.detail?.hasPrefix("refused: already paused since ") == true, "\(lastPause)")
        try await console.stop()
    }

    /// A console without users answers only requests addressed to a loopback name: a page of
    /// another name pointed at 127.0.0.1 (DNS rebinding) could read its pages and form tokens and
    /// act. Actions from another site's page (its `Origin`) are refused too, and a form too
    /// large to be one of the console's is a 413 that says so.
    @Test func aConsoleWithoutUsersAnswersOnlyToLoopbackNames() async throws {
        let (console, store, _) = try await start(.sqlite)
        defer { console.child.kill(SIGKILL) }
        let id = try await failed(store, topic: "rebound")
        let port = try #require(URL(string: console.base)?.port)
        let rebound = try await console.get("/jobs/\(id)", headers: [("Host", "evil.example:\(port)")])
        #expect(rebound.status == 403 && rebound.body.contains("loopback") && !rebound.body.contains("rebound"), "\(rebound.status) \(rebound.body)")
        for host in ["localhost:\(port)", "127.0.0.1:\(port)", "[::1]:\(port)", "LOCALHOST"] {
            #expect(try await console.get("/jobs/\(id)", headers: [("Host", host)]).status == 200, "\(host)")
        }
        let (cookie, token) = try await console.session()
        func retry(from origin: String) async throws -> Console.Reply {
            try await console.send("POST", "/jobs/\(id)/retry", headers: [("Cookie", cookie), ("Origin", origin),
                                   ("Content-Type", "application/x-www-form-urlencoded")], body: "csrf=\(token)")
        }
        let foreign = try await retry(from: "http://evil.example:\(port)")
        #expect(foreign.status == 403 && foreign.body.contains("evil.example"), "\(foreign.status) \(foreign.body)")
        #expect(try await store.job(id: id)?.state == .failed)
        #expect(try await retry(from: "http://127.0.0.1:\(port)").status == 303)
        #expect(try await store.job(id: id)?.state == .queued)

        let big = try await console.send("POST", "/jobs/\(id)/cancel", headers: [("Cookie", cookie), ("Content-Type", "application/x-www-form-urlencoded")],
                                         body: "csrf=\(token)&pad=" + String(repeating: "a", count: 200_000))
        #expect(big.status == 413 && big.body.contains("larger than 64 KiB") && !big.body.contains("NIO"), "\(big.status) \(big.body.prefix(300))")
        #expect(try await store.job(id: id)?.state == .queued)
        try await console.stop()
    }

    /// A job's page redoes it from a chosen stage (with the page's token, audited); a job already
    /// uploaded shows no redo, and a forced one is a 409 that says why.
    @Test(arguments: ProcessEngine.all) func aJobIsRedoneFromAStage(engine: ProcessEngine) async throws {
        let (console, store, _) = try await start(engine)
        defer { console.child.kill(SIGKILL) }
        let (cookie, token) = try await console.session()
        let id = try await failed(store, topic: "redo me")
        #expect(try await console.get("/jobs/\(id)").body.contains("id=\"redo\""))
        #expect(try await console.post("/jobs/\(id)/redo", form: [("stage", "thumbnail")], cookie: cookie).status == 403)
        let done = try await console.post("/jobs/\(id)/redo", form: [("csrf", token), ("stage", "thumbnail")], cookie: cookie)
        #expect(done.status == 303 && done.headers["location"]?.hasPrefix("/jobs/\(id)?done=redone&seal=") == true, "\(done.status) \(done.body)")
        #expect(try await store.job(id: id)?.state == .queued)

        let uploaded = try await store.enqueue(NewJob(channel: "facts", topic: "on youtube")).job.id
        let lease = try #require(try await store.lease(worker: "w", channels: nil, kind: .video, pipeline: nil, duration: .seconds(60), only: uploaded))
        try await store.saveStageNotes(lease, stage: "publish", notes: ["video_id": "abcdefghijk"])
        _ = try await store.complete(lease)
        #expect(!(try await console.get("/jobs/\(uploaded)").body.contains("id=\"redo\"")))
        let refused = try await console.post("/jobs/\(uploaded)/redo", form: [("csrf", token), ("stage", "thumbnail")], cookie: cookie)
        #expect(refused.status == 409 && refused.body.contains("second video"), "\(refused.status) \(refused.body)")
        #expect(try await store.auditLog(limit: 2).map(\.action) == ["redo", "redo"])
        // Not a stage (or none): the form was wrong, 400, and nothing changed.
        let other = try await failed(store, topic: "bad stage")
        for stage in ["bogus", ""] {
            let bad = try await console.post("/jobs/\(other)/redo", form: [("csrf", token), ("stage", stage)], cookie: cookie)
            #expect(bad.status == 400 && bad.body.contains("is not a stage"), "'\(stage)': \(bad.status) \(bad.body)")
        }
        #expect(try await store.job(id: other)?.state == .failed)
        try await console.stop()
    }

    /// More jobs waiting than one page shows: the page says how many wait and that it shows the
    /// longest waiting, rather than hiding the rest without a word.
    @Test func theReviewPageSaysHowManyWaitBeyondItsPage() async throws {
        let (console, store, _) = try await start(.sqlite)
        defer { console.child.kill(SIGKILL) }
        var ids: [Int64] = []
        for i in 0..<52 {
            let id = try await store.enqueue(NewJob(channel: "facts", topic: "topic \(i)")).job.id
            let lease = try #require(try await store.lease(worker: "w", channels: nil, kind: .video, pipeline: nil, duration: .seconds(60), only: id))
            guard case .held = try await store.holdForReview(lease, stage: "publish") else { Issue.record("not held"); return }
            ids.append(id)
        }
        let page = try await console.get("/review").body
        #expect(page.contains("id=\"more-review\">52 jobs wait for review; these are the 50 waiting longest"), "\(page.prefix(3_000))")
        #expect(page.contains("id=\"review-\(ids[49])\"") && !page.contains("id=\"review-\(ids[50])\""))
    }

    /// A job waiting for review is on /review with its video and buttons; approving it (with the
    /// page's token, audited) queues it to publish, rejecting another needs a reason and cancels it
    /// with that reason; deciding a job that does not wait is a 409 that says why.
    @Test(arguments: ProcessEngine.all) func jobsWaitingForReviewAreApprovedOrRejected(engine: ProcessEngine) async throws {
        let (console, store, _) = try await start(engine)
        defer { console.child.kill(SIGKILL) }
        #expect(try await console.get("/review").body.contains("id=\"no-review\""))
        var ids: [Int64] = []
        for topic in ["approve <me>", "reject me"] {
            let id = try await store.enqueue(NewJob(channel: "facts", topic: topic)).job.id
            let lease = try #require(try await store.lease(worker: "w", channels: nil, kind: .video, pipeline: nil, duration: .seconds(60), only: id))
            guard case .held = try await store.holdForReview(lease, stage: "publish") else { Issue.record("not held"); return }
            ids.append(id)
        }
        let page = try await console.get("/review")
        #expect(page.status == 200 && page.body.contains("approve &lt;me&gt;") && !page.body.contains("approve <me>"))
        for id in ids { #expect(page.body.contains("id=\"approve-\(id)\"") && page.body.contains("id=\"reject-\(id)\"")) }
        #expect(try await console.get("/jobs/\(ids[0])").body.contains("id=\"approve-\(ids[0])\""))
        let api = try #require(try JSONSerialization.jsonObject(with: Data(try await console.get("/api/review").body.utf8)) as? [[String: Any]])
        #expect(api.compactMap { ($0["id"] as? NSNumber)?.int64Value } == ids && api.allSatisfy { $0["review_requested_at"] is String })

        let (cookie, token) = try await console.session()
        #expect(try await console.post("/jobs/\(ids[0])/approve", form: [], cookie: cookie).status == 403)
        let approved = try await console.post("/jobs/\(ids[0])/approve", form: [("csrf", token)], cookie: cookie)
        #expect(approved.status == 303 && approved.headers["location"]?.hasPrefix("/review?done=approved") == true, "\(approved.status) \(approved.body)")
        #expect(try await store.job(id: ids[0])?.state == .queued)
        #expect(try await store.review(jobID: ids[0])?.decidedBy == "web (loopback)")

        let noReason = try await console.post("/jobs/\(ids[1])/reject", form: [("csrf", token), ("reason", " ")], cookie: cookie)
        #expect(noReason.status == 400 && noReason.body.contains("needs a reason"), "\(noReason.status) \(noReason.body)")
        #expect(try await store.job(id: ids[1])?.state == .review)
        let rejected = try await console.post("/jobs/\(ids[1])/reject", form: [("csrf", token), ("reason", "too dark")], cookie: cookie)
        #expect(rejected.status == 303, "\(rejected.body)")
        let ended = try #require(try await store.job(id: ids[1]))
        #expect(ended.state == .cancelled && ended.lastErrorCode == "review.rejected" && ended.lastErrorMessage?.contains("too dark") == true)
        #expect(try await console.get("/jobs/\(ids[1])").body.contains("too dark"))
        let apiJob = try JSONSerialization.jsonObject(with: Data(try await console.get("/api/jobs/\(ids[1])").body.utf8)) as? [String: Any]
        #expect((apiJob?["review"] as? [String: Any])?["reason"] as? String == "too dark", "\(apiJob ?? [:])")

        let twice = try await console.post("/jobs/\(ids[0])/approve", form: [("csrf", token)], cookie: cookie)
        #expect(twice.status == 409 && twice.body.contains("only a job waiting for review"), "\(twice.status) \(twice.body)")
        #expect(try await store.auditLog(limit: 4).map(\.action) == ["approve", "reject", "reject", "approve"])
        #expect(try await console.get("/review").body.contains("id=\"no-review\""))
        try await console.stop()
    }

    /// `ytauto auth console-user NAME --role ROLE`, the password on standard input.
    func addUser(_ name: String, role: String, password: String) async throws -> ProcessResult {
        try password.write(toFile: dir.path("pw-\(name)"), atomically: true, encoding: .utf8)
        return try await Child(URL(fileURLWithPath: "/bin/sh"), ["-c", "exec \"$0\" auth console-user \"$1\" --role \"$2\" < \"$3\"",
                                                               binary("ytauto").path, name, role, dir.path("pw-\(name)")],
                               cwd: dir.url, environment: ["YTAUTO_CONFIG": dir.path("ytauto.yaml")]).wait()
    }

    static func basic(_ user: String, _ password: String) -> [(String, String)] {
        [("Authorization", "Basic " + Data("\(user):\(password)".utf8).base64EncodedString())]
    }

    /// HTTPS: with `--tls-cert` and `--tls-key` the console answers over TLS with that certificate
    /// (a client that trusts it alone signs in and reads a page) and not over plain HTTP. A key that
    /// others may read, a missing file and one option without the other are refused, each naming
    /// the option and the file, before anything listens.
    @Test func withACertificateAndKeyItServesHTTPSOnly() async throws {
        try "channels:\n  - name: facts\n    type: facts\n".write(toFile: dir.path("ytauto.yaml"), atomically: true, encoding: .utf8)
        let cert = dir.path("cert.pem"), key = dir.path("key.pem")
        let made = try await Child(URL(fileURLWithPath: "/usr/bin/env"), [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert, "-days", "2",
            "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"], cwd: dir.url).wait()
        try #require(made.status == 0, "openssl: \(made.stderr)")
        #expect(chmod(key, 0o600) == 0)
        #expect(try await addUser("ana", role: "operator", password: "correct horse ana").status == 0)
        let env = ["YTAUTO_DB": dir.path("tls.db"), "YTAUTO_CONFIG": dir.path("ytauto.yaml")]
        #expect(try await run("ytauto", ["init"], cwd: dir.url, environment: env).status == 0)

        // Refused before listening: each names what is wrong. (A run that listens instead is stopped, not waited on.)
        let port = try PostgresServer.freePort()
        func run(_ name: String, _ arguments: [String], cwd: URL, environment: [String: String]) async throws -> ProcessResult {
            let (result, exitedInTime) = await (try Child(binary(name), arguments, cwd: cwd, environment: environment)).wait(atMost: .seconds(20))
            if !exitedInTime { Issue.record("ytauto \(arguments.joined(separator: " ")) did not stop: it should have refused to start") }
            return result
        }
        let half = try await run("ytauto", ["web", "--listen", "127.0.0.1:\(port)", "--tls-cert", cert], cwd: dir.url, environment: env)
        #expect(half.status != 0 && half.stderr.contains("--tls-cert and --tls-key go together"), "\(half.stderr)")
        let missing = try await run("ytauto", ["web", "--listen", "127.0.0.1:\(port)", "--tls-cert", dir.path("none.pem"), "--tls-key", key],
                                    cwd: dir.url, environment: env)
        #expect(missing.status != 0 && missing.stderr.contains("--tls-cert \(dir.path("none.pem")): no such file"), "\(missing.stderr)")
        // A key of another certificate: named with both files (it said only "failedToLoadPrivateKey").
        let other = dir.path("other.pem")
        let otherMade = try await Child(URL(fileURLWithPath: "/usr/bin/env"), ["openssl", "genrsa", "-out", other, "2048"], cwd: dir.url).wait()
        try #require(otherMade.status == 0, "openssl: \(otherMade.stderr)")
        #expect(chmod(other, 0o600) == 0)
        let mismatched = try await run("ytauto", ["web", "--listen", "127.0.0.1:\(port)", "--tls-cert", cert, "--tls-key", other], cwd: dir.url, environment: env)
        #expect(mismatched.status == 1 && mismatched.stderr.contains("--tls-key \(other) does not go with the certificate in --tls-cert \(cert)"), "\(mismatched.stderr)")
        #expect(chmod(key, 0o644) == 0)
        let readable = try await run("ytauto", ["web", "--listen", "127.0.0.1:\(port)", "--tls-cert", cert, "--tls-key", key], cwd: dir.url, environment: env)
        #expect(readable.status != 0 && readable.stderr.contains("others may read this private key (mode 644)"), "\(readable.stderr)")
        #expect(!readable.stderr.contains("PRIVATE KEY"))
        #expect(chmod(key, 0o600) == 0)

        let child = try Child(binary("ytauto"), ["web", "--listen", "0.0.0.0:\(port)", "--tls-cert", cert, "--tls-key", key], cwd: dir.url, environment: env)
        defer { child.kill(SIGKILL) }
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(cert))
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: .init(tlsConfiguration: tls, redirectConfiguration: .disallow))
        let stranger = HTTPClient(eventLoopGroupProvider: .singleton)
        do {
            try await servesHTTPSOnly(child: child, port: port, client: client, stranger: stranger)
        } catch {
            try? await client.shutdown()
            try? await stranger.shutdown()
            throw error
        }
        try await client.shutdown()
        try await stranger.shutdown()
    }

    func servesHTTPSOnly(child: Child, port: Int, client: HTTPClient, stranger: HTTPClient) async throws {
        func get(_ url: String) async throws -> (status: UInt, body: String) {
            var request = HTTPClientRequest(url: url)
            for (name, value) in Self.basic("ana", "correct horse ana") { request.headers.add(name: name, value: value) }
            let response = try await client.execute(request, timeout: .seconds(10))
            return (response.status.code, String(buffer: try await response.body.collect(upTo: 4 << 20)))
        }
        let up = await eventually(timeout: .seconds(30)) { (try? await get("https://127.0.0.1:\(port)/api/overview").status) == 200 }
        if !up { child.kill(SIGKILL); Issue.record("the console did not answer over HTTPS: \(await child.wait().stderr)") }
        try #require(up)
        let page = try await get("https://127.0.0.1:\(port)/jobs")
        #expect(page.status == 200 && page.body.contains("facts"), "\(page.status)")
        // The same port over plain HTTP gets no page.
        let plain = try? await get("http://127.0.0.1:\(port)/api/overview")
        #expect(plain?.status != 200, "plain HTTP answered \(String(describing: plain?.status))")
        // A client that does not trust the certificate is refused it.
        await #expect(throws: (any Error).self) {
            _ = try await stranger.execute(HTTPClientRequest(url: "https://127.0.0.1:\(port)/api/overview"), timeout: .seconds(10))
        }
        child.kill(SIGTERM)
        let ended = await child.wait()
        #expect(ended.status == 0 && ended.stdout.contains("listening on https://0.0.0.0:\(port)/"), "\(ended.stdout) \(ended.stderr)")
        #expect(!ended.stderr.contains("plain HTTP"), "no warning with TLS: \(ended.stderr)")
    }

    /// With users in the credentials file (their passwords only as bcrypt hashes, the file 0600),
    /// the console listens on any address and every request signs in: none or a wrong password is
    /// a 401, a viewer reads but may not act (403, nothing changed), an operator acts and the audit
    /// log names them. Without users, a network address is refused.
    @Test func aConsoleWithUsersAsksEveryRequestToSignInAndOnlyOperatorsAct() async throws {
        try "channels:\n  - name: facts\n    type: facts\n".write(toFile: dir.path("ytauto.yaml"), atomically: true, encoding: .utf8)
        let port = try PostgresServer.freePort()
        let open = try await run("ytauto", ["web", "--listen", "0.0.0.0:\(port)"], cwd: dir.url,
                                 environment: ["YTAUTO_DB": dir.path("open.db"), "YTAUTO_CONFIG": dir.path("ytauto.yaml")])
        #expect(open.status != 0 && open.stderr.contains("Add users first"), "\(open.status) \(open.stderr)")

        let short = try await addUser("ana", role: "operator", password: "short")
        #expect(short.status != 0 && short.stderr.contains("at least 10 characters"), "\(short.stderr)")
        for (name, role) in [("ana", "operator"), ("vic", "viewer"), ("una", "viewer")] {
            let added = try await addUser(name, role: role, password: "correct horse \(name)")
            #expect(added.status == 0, "\(added.stderr)")
        }
        let file = dir.path("credentials.yaml")
        let text = try String(contentsOfFile: file, encoding: .utf8)
        #expect(!text.contains("correct horse") && text.contains("console_user_ana: operator $2b$") && text.contains("console_user_vic: viewer $2b$"), "\(text)")
        #expect(try FileManager.default.attributesOfItem(atPath: file)[.posixPermissions] as? Int == 0o600)

        let operatorAuth = Self.basic("ana", "correct horse ana"), viewerAuth = Self.basic("vic", "correct horse vic")
        let (console, store, location) = try await start(.sqlite, host: "0.0.0.0", probe: viewerAuth)
        defer { console.child.kill(SIGKILL) }
        // An address no interface of this host has (TEST-NET-1) is said with the address (it was
        // NIO's "bind(descriptor:ptr:bytes:): Cannot assign requested address) (errno: 99)").
        let elsewhere = try await run("ytauto", ["web", "--listen", "192.0.2.1:\(port)"], cwd: dir.url,
                                      environment: ["YTAUTO_DB": location, "YTAUTO_CONFIG": dir.path("ytauto.yaml")])
        #expect(elsewhere.status == 1 && elsewhere.stderr.contains("cannot listen on 192.0.2.1:\(port): no network interface of this host has that address"),
                "\(elsewhere.status) \(elsewhere.stderr)")
        let id = try await failed(store, topic: "signed in")
        for path in ["/", "/api/jobs", "/metrics"] {
            let anonymous = try await console.get(path)
            #expect(anonymous.status == 401 && anonymous.headers["www-authenticate"]?.hasPrefix("Basic realm=\"ytauto\"") == true, "\(path): \(anonymous.status)")
        }
        #expect(try await console.get("/", headers: Self.basic("ana", "correct horse vic")).status == 401)
        #expect(try await console.get("/", headers: Self.basic("nobody", "correct horse ana")).status == 401)
        #expect(!(try await console.get("/jobs").body.contains("signed in")), "a page was shown without signing in")

        let viewerPage = try await console.get("/jobs/\(id)", headers: viewerAuth)
        #expect(viewerPage.status == 200 && viewerPage.body.contains("class=\"viewer\"") && viewerPage.body.contains("vic (viewer)"))
        #expect(try await console.get("/metrics", headers: viewerAuth).status == 200)
        let cookieHeader = try #require(viewerPage.headers["set-cookie"]).split(separator: ";")[0]
        // The form token of that cookie, from an operator's page (a viewer's pages have no forms).
        let operatorPage = try await console.get("/channels", headers: operatorAuth + [("Cookie", String(cookieHeader))])
        let token = try #require(Console.formToken(in: operatorPage.body), "no form token on \(operatorPage.body.prefix(500))")
        let form = "csrf=\(token)"
        let refused = try await console.send("POST", "/jobs/\(id)/retry", headers: viewerAuth + [("Cookie", String(cookieHeader)),
                                             ("Content-Type", "application/x-www-form-urlencoded")], body: form)
        #expect(refused.status == 403 && refused.body.contains("vic is a viewer"), "\(refused.status) \(refused.body)")
        #expect(try await store.job(id: id)?.state == .failed)
        let tried = try #require(try await store.auditLog(limit: 1).first)
        #expect(tried.actor == "web:vic" && tried.action == "retry" && tried.target == "job \(id)" && tried.detail == "refused: vic is a viewer", "\(tried)")

        let done = try await console.send("POST", "/jobs/\(id)/retry", headers: operatorAuth + [("Cookie", String(cookieHeader)),
                                          ("Content-Type", "application/x-www-form-urlencoded")], body: form)
        #expect(done.status == 303, "\(done.status) \(done.body)")
        #expect(try await store.job(id: id)?.state == .queued)
        #expect(try await store.auditLog(limit: 1).first?.actor == "web:ana")

        // Wrong sign-ins are counted by the address they come from (every 127.x.y.z is this
        // machine): ten from 127.0.0.2 turn it away for the rest of the minute, whatever it
        // tries, and the user it guessed at still signs in from elsewhere. Una has not signed in
        // before, so nothing remembered lets her through.
        let consolePort = try #require(Int(console.base.split(separator: ":").last ?? ""))
        var guesses: [Int] = []
        for n in 0..<11 {
            guesses.append(try await RequestFromAddress.get(port: consolePort, path: "/", headers: Self.basic("una", "guess \(n)"), from: "127.0.0.2").status)
        }
        #expect(guesses.prefix(10).allSatisfy { $0 == 401 } && guesses.last == 429, "\(guesses)")
        let turnedAway = try await RequestFromAddress.get(port: consolePort, path: "/", headers: Self.basic("una", "correct horse una"), from: "127.0.0.2")
        #expect(turnedAway.status == 429 && turnedAway.body.contains("from this address"), "\(turnedAway)")
        let una = try await RequestFromAddress.get(port: consolePort, path: "/", headers: Self.basic("una", "correct horse una"), from: "127.0.0.3")
        #expect(una.status == 200 && una.body.contains("una (viewer)"), "\(una.status) \(una.body.prefix(300))")
        try await console.stop()
    }

    /// Server-sent events, read as they come: (event, data) pairs.
    final class EventStream: @unchecked Sendable {
        // `@unchecked` is safe: `received` is only touched under `lock`.
        private let lock = NSLock()
        private var received: [(event: String, data: String)] = []
        private var task: Task<Void, Never>?

        var events: [(event: String, data: String)] { lock.withLock { received } }

        init(_ console: Console, path: String = "/events") async throws {
            let response = try await console.client.execute(HTTPClientRequest(url: console.base + path), timeout: .seconds(600))
            #expect(response.status.code == 200 && response.headers["content-type"].first?.hasPrefix("text/event-stream") == true)
            task = Task { [weak self] in
                var text = ""
                do {
                    for try await chunk in response.body {
                        text += String(buffer: chunk)
                        while let end = text.range(of: "\n\n") {
                            let block = String(text[..<end.lowerBound])
                            text = String(text[end.upperBound...])
                            var event = "message", data = ""
                            for line in block.split(separator: "\n") {
                                if line.hasPrefix("event: ") { event = String(line.dropFirst(7)) }
                                if line.hasPrefix("data: ") { data += line.dropFirst(6) }
                            }
                            if !data.isEmpty { self?.lock.withLock { self?.received.append((event, data)) } }
                        }
                    }
                } catch {}
            }
        }

        /// The stages of the running jobs in the newest `running` event, by job id.
        var latestStages: [Int64: String] {
            guard let last = events.last(where: { $0.event == "running" }),
                  let jobs = try? JSONSerialization.jsonObject(with: Data(last.data.utf8)) as? [[String: Any]] else { return [:] }
            return Dictionary(uniqueKeysWithValues: jobs.compactMap { j in
                (j["id"] as? NSNumber).map { ($0.int64Value, j["stage"] as? String ?? "") }
            })
        }

        func close() { task?.cancel() }
    }

    /// /events says which jobs run and in which stage as soon as the store changes (not at the
    /// 15 s keep-alive): a lease, each stage, the end (on PostgreSQL, which does not notify it,
    /// within the console's 2 s look at the running jobs); and an open stream does not hold up
    /// the console's shutdown.
    @Test(arguments: ProcessEngine.all) func liveEventsFollowARunningJobsStages(engine: ProcessEngine) async throws {
        let (console, store, _) = try await start(engine)
        defer { console.child.kill(SIGKILL) }
        let stream = try await EventStream(console)
        defer { stream.close() }
        #expect(await eventually(timeout: .seconds(10)) { stream.events.contains { $0.event == "running" && $0.data == "[]" } }, "\(stream.events)")
        let id = try await store.enqueue(NewJob(channel: "facts", topic: "live")).job.id
        let lease = try #require(try await store.lease(worker: "w", channels: nil, kind: .video, pipeline: nil, duration: .seconds(60), only: id))
        for stage in ["script", "narration", "images"] {
            let started = ContinuousClock.now
            try await store.checkpoint(lease, stage: stage, state: .running, artifacts: [], startedAt: Date(), error: nil)
            // Well within the 15 s keep-alive, so it was the change that sent it.
            #expect(await eventually(timeout: .seconds(10)) { stream.latestStages[id] == stage }, "\(stage): \(stream.events.suffix(3))")
            print("live event for \(stage) after \(ContinuousClock.now - started)")
            try await store.checkpoint(lease, stage: stage, state: .succeeded, artifacts: [], startedAt: Date(), error: nil)
        }
        // The end: on PostgreSQL a completion notifies nobody, and still shows well within the keep-alive.
        let ending = ContinuousClock.now
        _ = try await store.complete(lease)
        #expect(await eventually(timeout: .seconds(10)) { stream.latestStages.isEmpty && stream.events.count > 1 },
                "\(stream.events.suffix(3))")
        print("live event for the end after \(ContinuousClock.now - ending)")
        let stopping = ContinuousClock.now
        try await console.stop()
        #expect(ContinuousClock.now - stopping < .seconds(10), "the open stream held the shutdown")
    }

    @Test(arguments: ProcessEngine.all) func bulkActionsAskFirstAndSayHowMany(engine: ProcessEngine) async throws {
        let (console, store, _) = try await start(engine)
        defer { console.child.kill(SIGKILL) }
        var facts: [Int64] = []
        for i in 0..<3 { facts.append(try await failed(store, topic: "fact \(i)")) }
        let other = try await failed(store, channel: "other", topic: "elsewhere")
        let timeout = try await failed(store, topic: "slow", code: "stage.timeout")
        let (cookie, token) = try await console.session()
        // A mistyped channel is refused, naming the known ones, rather than "0 jobs match".
        let typo = try await console.post("/jobs/bulk", form: [("csrf", token), ("action", "cancel"), ("state", "queued"), ("channel", "fatcs")], cookie: cookie)
        #expect(typo.status == 400 && typo.body.contains("no channel named &#39;fatcs&#39;") && typo.body.contains("in the configuration (facts") && typo.body.contains(") or the database (facts, other)"), "\(typo.status) \(typo.body)")
        // A channel only the database knows is listed, chosen, when its jobs are shown (the list said "any").
        let otherPage = try await console.get("/jobs?channel=other")
        #expect(otherPage.status == 200 && otherPage.body.contains("<option selected>other</option>") && otherPage.body.contains("/jobs/\(other)"),
                "\(otherPage.status) \(otherPage.body)")
        let filter = [("csrf", token), ("action", "retry"), ("state", "failed"), ("channel", "facts"), ("code", "provider.rate_limited")]
        let ask = try await console.post("/jobs/bulk", form: filter, cookie: cookie)
        #expect(ask.status == 200 && ask.body.contains("Retry 3 jobs?"), "\(ask.body)")
        #expect(try await store.job(id: facts[0])?.state == .failed, "asking changed something")
        // One more failed meanwhile: the 3 confirmed are not 4 acted on; it asks again.
        let late = try await failed(store, topic: "fact 3")
        let changed = try await console.post("/jobs/bulk", form: filter + [("confirm", "3")], cookie: cookie)
        #expect(changed.status == 200 && changed.body.contains("Retry 4 jobs?") && changed.body.contains("you confirmed 3 jobs, and 4 match now"), "\(changed.body)")
        #expect(try await store.job(id: late)?.state == .failed)
        #expect(try await store.job(id: facts[0])?.state == .failed)
        facts.append(late)
        let done = try await console.post("/jobs/bulk", form: filter + [("confirm", "4")], cookie: cookie)
        #expect(done.status == 303, "\(done.body)")
        for id in facts { #expect(try await store.job(id: id)?.state == .queued) }
        #expect(try await store.job(id: other)?.state == .failed)
        #expect(try await store.job(id: timeout)?.state == .failed)
        let entry = try #require(try await store.auditLog(limit: 1).first)
        #expect(entry.action == "bulk-retry" && entry.target.contains("channel=facts") && entry.detail?.hasPrefix("4 of 4 jobs") == true)
        try await console.stop()
    }

    @Test(arguments: ProcessEngine.all) func filesAreServedOnlyAsRecordedArtifactsWithRanges(engine: ProcessEngine) async throws {
        let (console, store, _) = try await start(engine)
        defer { console.child.kill(SIGKILL) }
        let bytes = (0..<1000).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        let path = dir.path("video.mp4")
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let id = try await store.enqueue(NewJob(channel: "facts", topic: "with a file")).job.id
        let lease = try #require(try await store.lease(worker: "w", channels: nil, kind: .video, pipeline: nil, duration: .seconds(60), only: id))
        try await store.checkpoint(lease, stage: "compose", state: .succeeded,
                                   artifacts: [Artifact(path: path, bytes: 1000, sha256: Checksum.sha256Hex(Data(bytes)))], startedAt: Date(), error: nil)
        let whole = try await console.get("/jobs/\(id)/artifacts/compose/0")
        #expect(whole.status == 200 && whole.bytes == bytes && whole.headers["accept-ranges"] == "bytes")
        #expect(whole.headers["content-type"] == "video/mp4")
        let part = try await console.get("/jobs/\(id)/artifacts/compose/0", headers: [("Range", "bytes=10-19")])
        #expect(part.status == 206 && part.bytes == Array(bytes[10...19]) && part.headers["content-range"] == "bytes 10-19/1000")
        let tail = try await console.get("/jobs/\(id)/artifacts/compose/0", headers: [("Range", "bytes=-5")])
        #expect(tail.status == 206 && tail.bytes == Array(bytes[995...]))
        let open = try await console.get("/jobs/\(id)/artifacts/compose/0", headers: [("Range", "bytes=990-")])
        #expect(open.status == 206 && open.bytes == Array(bytes[990...]))
        let beyond = try await console.get("/jobs/\(id)/artifacts/compose/0", headers: [("Range", "bytes=5000-")])
        #expect(beyond.status == 416 && beyond.headers["content-range"] == "bytes */1000")
        // Positions past any integer are "to the end" (RFC 9110 14.1.1): a last position clamped,
        // a suffix longer than the file the whole file; a range that is not a number still 416.
        let huge = "99999999999999999999999"
        let clamped = try await console.get("/jobs/\(id)/artifacts/compose/0", headers: [("Range", "bytes=990-\(huge)")])
        #expect(clamped.status == 206 && clamped.bytes == Array(bytes[990...]) && clamped.headers["content-range"] == "bytes 990-999/1000")
        let longSuffix = try await console.get("/jobs/\(id)/artifacts/compose/0", headers: [("Range", "bytes=-\(huge)")])
        #expect(longSuffix.status == 206 && longSuffix.bytes == bytes, "\(longSuffix.status)")
        let farStart = try await console.get("/jobs/\(id)/artifacts/compose/0", headers: [("Range", "bytes=\(huge)-")])
        #expect(farStart.status == 416)
        let words = try await console.get("/jobs/\(id)/artifacts/compose/0", headers: [("Range", "bytes=ten-twenty")])
        #expect(words.status == 416)
        // Another unit than bytes is ignored (RFC 9110 14.2): the whole file.
        let items = try await console.get("/jobs/\(id)/artifacts/compose/0", headers: [("Range", "items=0-5")])
        #expect(items.status == 200 && items.bytes == bytes, "\(items.status)")
        // HEAD answers as GET would, without the body (a player, or a link checker, asks first).
        let head = try await console.send("HEAD", "/jobs/\(id)/artifacts/compose/0", headers: [], body: nil)
        #expect(head.status == 200 && head.bytes.isEmpty && head.headers["content-length"] == "1000", "\(head.status) \(head.headers)")
        for (path, status) in [("/", 200), ("/jobs/\(id)", 200), ("/api/overview", 200), ("/jobs/999999", 404)] {
            let r = try await console.send("HEAD", path, headers: [], body: nil)
            #expect(r.status == status && r.bytes.isEmpty, "HEAD \(path): \(r.status)")
        }
        // The job page plays it.
        #expect(try await console.get("/jobs/\(id)").body.contains("<video id=\"video\" controls preload=\"metadata\" src=\"/jobs/\(id)/artifacts/compose/0\""))
        // Recorded, but tidied away when the job succeeded: said so.
        _ = try await store.complete(lease)
        try FileManager.default.removeItem(atPath: path)
        let tidied = try await console.get("/jobs/\(id)/artifacts/compose/0")
        #expect(tidied.status == 404 && tidied.body.contains("the job succeeded, so its work files were tidied away"), "\(tidied.body)")
        // A published file removed from the output folder: said so (it said the work files were tidied, or another host).
        let published = try await store.enqueue(NewJob(channel: "facts", topic: "published")).job.id
        let publishedLease = try #require(try await store.lease(worker: "w", channels: nil, kind: .video, pipeline: nil, duration: .seconds(60), only: published))
        let outputFile = dir.url.appending(path: "output/facts/\(published)-published/video.mp4").standardizedFileURL.path
        try await store.checkpoint(publishedLease, stage: "publish", state: .succeeded,
                                   artifacts: [Artifact(path: outputFile, bytes: 1000, sha256: Checksum.sha256Hex(Data(bytes)))], startedAt: Date(), error: nil)
        _ = try await store.complete(publishedLease)
        let gone = try await console.get("/jobs/\(published)/artifacts/publish/0")
        #expect(gone.status == 404 && gone.body.contains("it was published to the output folder (\(outputFile)) and has been removed or moved from there since"),
                "\(gone.body)")
        #expect(try await console.get("/jobs/\(published)").body.contains("recorded, but not here: it was published to the output folder"))
        // Nothing else: another index, another stage, another job, a path.
        let other = try await store.enqueue(NewJob(channel: "facts", topic: "no files")).job.id
        for bad in ["/jobs/\(id)/artifacts/compose/1", "/jobs/\(id)/artifacts/script/0", "/jobs/\(other)/artifacts/compose/0",
                    "/jobs/\(id)/artifacts/..%2F..%2F..%2Fetc%2Fpasswd/0", "/jobs/\(id)/artifacts/compose/-1"] {
            let r = try await console.get(bad)
            #expect(r.status == 404 || r.status == 400, "\(bad): \(r.status)")
            #expect(!r.body.contains("root:"))
        }
        try await console.stop()
    }

    /// Pages of 50, newest first, each linking to the next by the last id it showed; exactly two
    /// pages' worth makes two pages (an "Older →" on the second led to an empty third, "no jobs match").
    @Test(arguments: ProcessEngine.all) func theJobListPagesByKeyset(engine: ProcessEngine) async throws {
        let (console, store, _) = try await start(engine)
        defer { console.child.kill(SIGKILL) }
        var ids: [Int64] = []
        for i in 0..<100 { ids.append(try await store.enqueue(NewJob(channel: "facts", topic: "job \(i)")).job.id) }
        var seen: [Int64] = []
        var path = "/jobs"
        var pages = 0
        while true {
            let page = try await console.get(path)
            #expect(page.status == 200)
            pages += 1
            let shown = page.body.matches(of: /<td class="num"><a href="\/jobs\/(\d+)">/).compactMap { Int64($0.output.1) }
            #expect(shown.count == 50, "page \(pages) (\(path)) shows \(shown.count) jobs")
            seen += shown
            guard let older = page.body.firstMatch(of: /<a id="older" href="([^"]+)">/) else { break }
            path = String(older.output.1).replacingOccurrences(of: "&amp;", with: "&")
        }
        #expect(pages == 2)
        #expect(seen == ids.reversed())
        try await console.stop()
    }

    @Test func withoutUsersItListensOnLoopbackOnly() async throws {
        try "channels:\n  - name: facts\n".write(toFile: dir.path("ytauto.yaml"), atomically: true, encoding: .utf8)
        for address in ["0.0.0.0:8080", "192.0.2.1:8080", "[::]:8080", "example.com:80"] {
            let r = try await run("ytauto", ["web", "--listen", address], cwd: dir.url, environment: ["YTAUTO_DB": dir.path("none.db")])
            #expect(r.status != 0)
            #expect(r.stderr.contains("listens on loopback only"), "\(address): \(r.stderr)")
        }
        let r = try await run("ytauto", ["web", "--listen", "127.0.0.1:99999"], cwd: dir.url)
        #expect(r.status != 0 && r.stderr.contains("within 1...65535"))
    }
}
