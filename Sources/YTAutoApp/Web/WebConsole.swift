import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import YTAutoCore
import YTAutoMedia

/// `ytauto web`: the console an operator keeps open. Server-rendered HTML (escaped, no CDN, no
/// external font, a few lines of plain JavaScript), the same data as JSON under `/api/`, and
/// `/metrics` in Prometheus's text format, all read from the store, so it shows every worker
/// on every host and works the same on SQLite and PostgreSQL.
///
/// Who may do what: without users (``ConsoleUsers``) it listens on loopback only (the command
/// refuses any other address: a console that can cancel jobs must not be open to a network); with
/// users every request signs in, and only operators act. Every action
/// is a POST carrying the form token of the console's pages, an HMAC of the browser's token
/// cookie under a key of this console process (``formToken(for:)``): a page of another site can
/// neither read the cookie nor send it (`SameSite=Strict`), and one that planted a cookie of its
/// own (cookies do not keep ports apart: another server on this host may set one) cannot make
/// the token that goes with it. Every action is recorded in the audit log (`ytauto-admin audit`).
struct WebConsole: Sendable {
    let store: any ConsoleStore
    let channels: [ChannelConfig]
    /// The jobs' folders (for disk use), or why they are not known.
    let folders: Result<JobFolders, any Error>
    let databaseName: String
    /// Daily limits shown beside the quota ledger, by "provider unit" ("youtube units": 10000).
    let quotaLimits: [String: Int]
    let logger: Logger
    /// Who may sign in (none: an open console, on loopback only).
    var users = ConsoleUsers([])
    let cache = ConsoleCache()
    /// What the live streams wait on (``ChangeFeed``).
    let feed = ChangeFeed()
    /// The key of this process's form tokens: a console started again asks open pages to reload.
    let formKey = SymmetricKey(size: .bits256)

    /// Jobs a page.
    static let pageSize = 50
    /// The largest form body read.
    static let maxForm = 64 << 10

    func router() -> Router<ConsoleContext> {
        // HEAD answers as GET, without the body, on every page, file and /api/ path.
        let router = Router(context: ConsoleContext.self, options: .autoGenerateHeadEndpoints)
        router.add(middleware: ErrorPage(logger: logger))
        if users.isEmpty { router.add(middleware: LoopbackOnly()) }
        router.add(middleware: ConsoleAuthenticator(users: users, logger: logger))
        router.get("/") { request, _ in try await self.html(request) { csrf in try await self.overviewPage(csrf: csrf) } }
        router.get("/jobs") { request, _ in
            try await self.html(request) { csrf in try await self.jobsPage(Self.query(request.uri.queryParameters), csrf: csrf, notice: self.notice(request)) }
        }
        router.get("/jobs/:id") { request, context in
            let id = try Self.jobID(context)
            return try await self.html(request) { csrf in try await self.jobPage(id, csrf: csrf, notice: self.notice(request)) }
        }
        router.get("/jobs/:id/artifacts/:stage/:index") { request, context in
            try await self.artifact(request, context)
        }
        router.get("/channels") { request, _ in
            try await self.html(request) { csrf in try await self.channelsPage(csrf: csrf, notice: self.notice(request)) }
        }
        router.get("/review") { request, _ in
            try await self.html(request) { csrf in try await self.reviewPage(csrf: csrf, notice: self.notice(request)) }
        }
        router.get("/workers") { request, _ in try await self.html(request) { csrf in try await self.workersPage(csrf: csrf) } }
        router.get("/audit") { request, _ in try await self.html(request) { csrf in try await self.auditPage(csrf: csrf) } }

        router.post("/jobs/:id/retry") { request, context in
            let id = try Self.jobID(context)
            _ = try await self.checkedForm(request)
            let detail: String
            do {
                let job = try await self.store.retry(jobID: id)
                detail = "queued again (attempt \(job.attempt) of \(job.maxAttempts))"
            } catch {
                throw try await self.refuse("retry", job: id, error, "retried")
            }
            try await self.audit("retry", "job \(id)", detail)
            return Self.redirect("/jobs/\(id)" + HTML.query(self.notice("retried")))
        }
        router.post("/jobs/:id/redo") { request, context in
            let id = try Self.jobID(context)
            let form = try await self.checkedForm(request)
            let stage = form["stage"] ?? ""
            // Not a stage: the form was wrong (400), as a rejection without a reason is.
            do {
                _ = try JobRules.stagesToRedo(from: stage)
            } catch {
                throw try await self.refuse("redo", job: id, error, "redone", badForm: true)
            }
            do {
                let job = try await self.store.redo(jobID: id, from: stage)
                try await self.audit("redo", "job \(id)", "from \(stage) (attempt \(job.attempt) of \(job.maxAttempts) used)")
            } catch {
                throw try await self.refuse("redo", job: id, error, "redone from '\(stage)'")
            }
            return Self.redirect("/jobs/\(id)" + HTML.query(self.notice("redone")))
        }
        router.post("/jobs/:id/approve") { request, context in
            let id = try Self.jobID(context)
            _ = try await self.checkedForm(request)
            do {
                _ = try await self.store.approve(jobID: id, by: Self.actor)
            } catch {
                throw try await self.refuse("approve", job: id, error, "approved")
            }
            try await self.audit("approve", "job \(id)", "queued to publish")
            return Self.redirect("/review" + HTML.query(self.notice("approved job \(id): a worker publishes it")))
        }
        router.post("/jobs/:id/reject") { request, context in
            let id = try Self.jobID(context)
            let reason = try await self.checkedForm(request)["reason"] ?? ""
            do {
                _ = try ReviewRules.checkedReason(reason)
            } catch {
                throw try await self.refuse("reject", job: id, error, "rejected", badForm: true)
            }
            do {
                _ = try await self.store.reject(jobID: id, reason: reason, by: Self.actor)
            } catch {
                throw try await self.refuse("reject", job: id, error, "rejected")
            }
            try await self.audit("reject", "job \(id)", reason)
            return Self.redirect("/review" + HTML.query(self.notice("rejected job \(id)")))
        }
        router.post("/jobs/:id/cancel") { request, context in
            let id = try Self.jobID(context)
            _ = try await self.checkedForm(request)
            let result: CancelResult
            do {
                result = try await self.store.cancel(jobID: id)
            } catch {
                throw try await self.refuse("cancel", job: id, error, "cancelled")
            }
            try await self.audit("cancel", "job \(id)", result.auditDetail)
            // A job that had finished is a refusal, a 409 as for a retry in the wrong state and
            // as `ytauto-admin cancel` fails (it was a 303 to a notice, read as done).
            if case .alreadyFinished = result { throw HTTPError(.conflict, message: "job \(id): \(result)") }
            return Self.redirect("/jobs/\(id)" + HTML.query(self.notice("job \(id): \(result)")))
        }
        router.post("/channels/:name/pause") { request, context in
            _ = try await self.checkedForm(request)
            let channel = try await self.channel(context, auditing: "pause")
            let (pause, isNew) = try await self.store.pause(channel: channel.name, by: Self.actor)
            guard isNew else {
                // Paused already (another tab, another operator): nothing changed; refused and
                // audited, as the CLI does (a redirect to the page said nothing).
                let already = "already paused since \(Timestamp.string(pause.pausedAt)) by \(pause.pausedBy)"
                try await self.audit("pause", "channel \(channel.name)", "refused: \(already)")
                throw HTTPError(.conflict, message: "channel \(channel.name) is \(already); nothing changed")
            }
            try await self.audit("pause", "channel \(channel.name)", "paused")
            return Self.redirect("/channels" + HTML.query(self.notice("paused")) + "#channel-\(Self.fragment(channel.name))")
        }
        router.post("/channels/:name/resume") { request, context in
            _ = try await self.checkedForm(request)
            let channel = try await self.channel(context, auditing: "resume")
            guard let ended = try await self.store.resume(channel: channel.name) else {
                // Resumed already (another tab, another operator): nothing changed; refused and audited, as the CLI does.
                try await self.audit("resume", "channel \(channel.name)", "refused: not paused")
                throw HTTPError(.conflict, message: "channel \(channel.name) was not resumed: it is not paused")
            }
            try await self.audit("resume", "channel \(channel.name)", "paused since \(Timestamp.string(ended.pausedAt))")
            return Self.redirect("/channels" + HTML.query(self.notice("resumed")) + "#channel-\(Self.fragment(channel.name))")
        }
        router.post("/channels/:name/run-now") { request, context in
            // A job due now with the topic the scheduler would take next (as `ytauto enqueue CHANNEL`).
            _ = try await self.checkedForm(request)
            let channel = try await self.channel(context, auditing: "run-now")
            let job = try await self.store.enqueueNextTopic(NewJob(channel: channel.name, priority: channel.priority,
                                                                   maxAttempts: channel.maxAttempts), channel: channel).result.job
            try await self.audit("run-now", "channel \(channel.name)", "job \(job.id), topic \(job.topic ?? "-")")
            // A paused channel's job waits for the resume: said, not left to be wondered at.
            let paused = try await self.store.pausedChannels().contains { $0.channel == channel.name }
            return Self.redirect("/jobs/\(job.id)" + HTML.query(self.notice(paused ? "queued; channel \(channel.name) is paused, so it runs after the resume" : "queued")))
        }
        router.post("/jobs/bulk") { request, _ in
            let form = try await self.checkedForm(request)
            return try await self.bulk(form, request: request)
        }

        router.get("/events") { request, _ in try await self.events(request) }
        router.get("/api/overview") { _, _ in try await self.json(try await self.snapshot().json(database: self.databaseName)) }
        router.get("/api/jobs") { request, _ in
            let query = try Self.query(request.uri.queryParameters)
            let jobs = try await self.store.jobs(matching: query, limit: Self.pageSize)
            // A mistyped channel is a 400 that says so and names the known ones, not an empty list.
            if jobs.isEmpty { try await self.checkChannelKnown(query.channel, status: .badRequest) }
            return try await self.json(jobs.map(JobJSON.init))
        }
        router.get("/api/jobs/:id") { _, context in
            let id = try Self.jobID(context)
            guard let job = try await self.store.job(id: id) else { throw HTTPError(.notFound, message: "no job \(id)") }
            return try await self.json(JobWith(job: JobJSON(job), more: JobHistoryJSON(
                stages: try await self.store.stages(jobID: id).map(JobHistoryJSON.StageJSON.init),
                attempts: try await self.store.attempts(jobID: id).map(AttemptJSON.init),
                stageRuns: try await self.store.stageRuns(jobID: id).map(JobHistoryJSON.StageJSON.init),
                review: try await self.store.review(jobID: id).map { ReviewJSON($0, video: nil) })))
        }
        router.get("/api/workers") { _, _ in
            var out: [WorkerJSON] = []
            for w in try await self.store.workers() {
                let dead = w.state == .running ? try await self.store.isAbandoned(w) == true : false
                out.append(WorkerJSON(id: w.id, pid: Int(w.pid), host: w.hostname, state: dead ? "dead" : w.state.rawValue,
                                      startedAt: Timestamp.string(w.startedAt), lastSeenAt: Timestamp.string(w.lastSeenAt),
                                      stoppedAt: w.stoppedAt.map(Timestamp.string)))
            }
            return try await self.json(out)
        }
        router.get("/api/slots") { request, _ in
            // As /api/jobs: an empty channel is no filter, and a mistyped one a 400 that says so
            // (as `ytauto-admin slots --channel` refuses it), not "no slots".
            let channel = request.uri.queryParameters.get("channel").flatMap { $0.isEmpty ? nil : ChannelConfig.canonicalName(String($0)) }
            let slots = try await self.store.slots(channel: channel, limit: 200)
            if slots.isEmpty { try await self.checkChannelKnown(channel, status: .badRequest) }
            return try await self.json(slots.map(SlotJSON.init))
        }
        router.get("/api/review") { _, _ in try await self.json(try await ReviewJSON.waiting(self.store, limit: Self.pageSize)) }
        router.get("/api/audit") { _, _ in try await self.json(try await self.store.auditLog(limit: 200).map(AuditJSON.init)) }
        router.get("/metrics") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                     body: .init(byteBuffer: ByteBuffer(string: try await self.metrics())))
        }
        return router
    }

    // MARK: - Requests

    static func jobID(_ context: ConsoleContext) throws -> Int64 {
        guard let text = context.parameters.get("id"), let id = Int64(text), id > 0 else {
            throw HTTPError(.badRequest, message: "a job id is a positive whole number")
        }
        return id
    }

    /// The names of the job list's filters (``query(_:)``).
    static let filterNames = ["channel", "code", "q", "state", "before"]

    /// The job list's filter from a query string (or a form): unknown states are refused, not
    /// ignored, and so is a filter given twice (`state=queued&state=failed` took one of them).
    static func query(_ parameters: Hummingbird.Parameters) throws -> JobQuery {
        for name in filterNames where parameters.getAll(name).count > 1 {
            throw HTTPError(.badRequest, message: "\(name) is given \(parameters.getAll(name).count) times: give each filter once")
        }
        return try query { parameters.get($0) }
    }

    /// Each filter's text without the spaces around it (a pasted " horror " is the channel
    /// "horror"); an empty one is no filter.
    static func query(_ value: (String) -> String?) throws -> JobQuery {
        func text(_ name: String) -> String? {
            value(name).map { $0.trimmingCharacters(in: .whitespaces) }.flatMap { $0.isEmpty ? nil : $0 }
        }
        // A filter is one line of visible text: a NUL cut the database's pattern short, and "%00zzz"
        // matched every job (a bulk cancel offered them all).
        for name in filterNames {
            if let t = text(name), let bad = TextControls.firstInLine(t) {
                throw HTTPError(.badRequest, message: "\(name) must be one line of visible text; it has \(TextControls.describe(bad))")
            }
        }
        var q = JobQuery(channel: text("channel").map(ChannelConfig.canonicalName), errorCode: text("code"), topicContains: text("q"))
        // As `ytauto-admin list-failed --code`: any code of a code's shape (every code the store
        // holds has it), and a mistyped one ("Work Stuck") a 400 rather than "no jobs match".
        if let code = q.errorCode, !OptionCheck.isErrorCode(code) {
            throw HTTPError(.badRequest, message: "code '\(code)' \(OptionCheck.notAnErrorCode)")
        }
        if let s = text("state") {
            guard let state = JobState(rawValue: s) else {
                throw HTTPError(.badRequest, message: "state '\(s)' is not one of \(JobState.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            q.state = state
        }
        if let b = text("before") {
            guard let id = Int64(b), id > 0 else { throw HTTPError(.badRequest, message: "before '\(b)' is not a job id") }
            q.beforeID = id
        }
        return q
    }

    /// The CSRF token of this browser: the cookie's, or a new one (set with the page).
    static func csrfToken(_ request: Request) -> (token: String, isNew: Bool) {
        if let c = request.cookies["ytauto_csrf"]?.value, c.count == 32, c.allSatisfy(\.isHexDigit) { return (c, false) }
        var bytes = [UInt8](repeating: 0, count: 16)
        for i in bytes.indices { bytes[i] = UInt8.random(in: 0...255) }
        return (hex(bytes), true)
    }

    /// The form token that goes with a browser's token cookie: the cookie's HMAC-SHA256 under
    /// ``formKey``, in hex. The pages carry it in their forms; the cookie alone is not enough.
    func formToken(for cookie: String) -> String {
        Self.hex(HMAC<SHA256>.authenticationCode(for: Data(cookie.utf8), using: formKey))
    }

    /// The query items of a notice a page shows after an action: the text and its seal, made and
    /// checked as a form token is (``formToken(for:)``) but of `notice NUL text`, which no token
    /// cookie can be. A page shows only a notice this console wrote: a link with `?done=Job
    /// deleted` of anyone's making showed that text as the console's own word.
    func notice(_ text: String) -> [(String, String?)] {
        [("done", text), ("seal", formToken(for: Self.sealed(text)))]
    }

    /// The notice of a page's address, when this console wrote it (``notice(_:)``).
    func notice(_ request: Request) -> String? {
        guard let text = request.uri.queryParameters.get("done"), let seal = request.uri.queryParameters.get("seal"),
              formTokenMatches(seal, cookie: Self.sealed(text)) else { return nil }
        return text
    }

    static func sealed(_ notice: String) -> String { "notice\u{0}\(notice)" }

    /// Bytes as lower-case hex, two digits each: the token cookie and the form token.
    static func hex(_ bytes: some Sequence<UInt8>) -> String {
        bytes.map { String(format: "%02x", $0) }.joined()
    }

    /// Whether `sent` is the form token of `cookie`, compared in constant time.
    func formTokenMatches(_ sent: String, cookie: String) -> Bool {
        let digits = Array(sent.utf8)
        guard digits.count == 64 else { return false }
        var bytes: [UInt8] = []
        for i in stride(from: 0, to: 64, by: 2) {
            guard let byte = UInt8(String(decoding: digits[i..<i + 2], as: UTF8.self), radix: 16) else { return false }
            bytes.append(byte)
        }
        return HMAC<SHA256>.isValidAuthenticationCode(bytes, authenticating: Data(cookie.utf8), using: formKey)
    }

    /// A form POSTed by one of the console's pages: its body decoded, its form token checked
    /// against the cookie's (``formToken(for:)``). Anything else is refused with 403 and changes nothing.
    func checkedForm(_ request: Request) async throws -> [String: String] {
        if let user = ConsoleIdentity.current, user.role != .operator {
            let (action, target) = Self.actionAndTarget(request.uri.path)
            try await audit(action, target, "refused: \(user.name) is a viewer")
            throw HTTPError(.forbidden, message: "\(user.name) is a viewer: only an operator may act on jobs and channels")
        }
        var body: ByteBuffer
        do {
            body = try await request.body.collect(upTo: Self.maxForm)
        } catch is NIOTooManyBytesError {
            throw HTTPError(.contentTooLarge, message: "the form is larger than \(Self.maxForm / 1024) KiB, more than any of the console's forms sends")
        }
        let text = body.readString(length: body.readableBytes) ?? ""
        var form: [String: String] = [:]
        for pair in text.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1).map { String($0).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? "" }
            guard let key = parts.first, !key.isEmpty else { continue }
            // One value a field: a field given twice would have been read as its last value.
            guard form[key] == nil else {
                throw HTTPError(.badRequest, message: "the form gives \(key) twice: each field once")
            }
            form[key] = parts.count > 1 ? parts[1] : ""
        }
        guard let cookie = request.cookies["ytauto_csrf"]?.value, !cookie.isEmpty, let sent = form["csrf"],
              formTokenMatches(sent, cookie: cookie) else {
            throw HTTPError(.forbidden, message: "this action did not come from one of the console's own pages (its CSRF token is missing or wrong): reload the page and try again")
        }
        return form
    }

    /// The audit log's action and target of a POST path: `/jobs/12/retry` is `retry` on `job 12`,
    /// `/channels/facts/pause` is `pause` on `channel facts`, `/jobs/bulk` is `bulk` on `jobs`.
    static func actionAndTarget(_ path: String) -> (action: String, target: String) {
        let parts = path.split(separator: "/").map { String($0).removingPercentEncoding ?? String($0) }
        guard parts.count >= 2, let action = parts.last else { return (path, path) }
        let noun = parts[0] == "jobs" ? "job" : parts[0] == "channels" ? "channel" : parts[0]
        return (action, parts.count == 3 ? "\(noun) \(parts[1])" : parts.dropLast().joined(separator: "/"))
    }

    /// Who the console acts as, in the audit log, a pause and a review: `web:NAME` for a signed-in
    /// user, `web (loopback)` for a console without users.
    static var actor: String { ConsoleIdentity.current.map { "web:\($0.name)" } ?? "web (loopback)" }

    func audit(_ action: String, _ target: String, _ detail: String?) async throws {
        try await store.recordAudit(actor: Self.actor, action: action, target: target, detail: detail)
    }

    /// Records a refused action on a job in the audit log, and the answer to give: 404 for a job
    /// that does not exist, 400 when the form itself was wrong (`badForm`: a rejection without a
    /// reason), else 409 (the job does not allow it) with why.
    func refuse(_ action: String, job id: Int64, _ error: any Error, _ done: String, badForm: Bool = false) async throws -> HTTPError {
        try await audit(action, "job \(id)", "refused: \(error)")
        if case JobStoreError.notFound = error { return HTTPError(.notFound, message: "no job \(id)") }
        return HTTPError(badForm ? .badRequest : .conflict, message: "job \(id) was not \(done): \(error)")
    }

    /// The configured channel the path names; for any other name a 404, audited as a refusal of
    /// `action` (as `ytauto-admin pause` audits one).
    func channel(_ context: ConsoleContext, auditing action: String) async throws -> ChannelConfig {
        // The pages percent-encode every character but letters and digits (``fragment(_:)``).
        let raw = context.parameters.get("name") ?? ""
        let name = raw.removingPercentEncoding ?? raw
        guard let channel = channels.first(where: { $0.name == name }) else {
            let known = channels.map(\.name).sorted().joined(separator: ", ")
            let problem = "no channel named '\(TextControls.visible(String(name.prefix(100))))' in the configuration (channels: \(known))"
            try await audit(action, "channel \(TextControls.visible(String(name.prefix(100))))", "refused: \(problem)")
            throw HTTPError(.notFound, message: problem)
        }
        return channel
    }

    /// A channel's name as a URL fragment (its anchor on the channels page).
    static func fragment(_ name: String) -> String {
        name.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
    }

    static func redirect(_ location: String) -> Response {
        Response(status: .seeOther, headers: [.location: location])
    }

    func html(_ request: Request, _ body: (String) async throws -> String) async throws -> Response {
        let (csrf, isNew) = Self.csrfToken(request)
        var headers: HTTPFields = [.contentType: "text/html; charset=utf-8", .cacheControl: "no-store"]
        headers[.contentSecurityPolicy] = "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src 'self' data:; media-src 'self'; frame-ancestors 'none'"
        headers[.xContentTypeOptions] = "nosniff"
        if isNew { headers[.setCookie] = "ytauto_csrf=\(csrf); Path=/; HttpOnly; SameSite=Strict" }
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: try await body(formToken(for: csrf)))))
    }

    func json(_ value: some Encodable) async throws -> Response {
        Response(status: .ok, headers: [.contentType: "application/json; charset=utf-8", .cacheControl: "no-store"],
                 body: .init(byteBuffer: ByteBuffer(string: Output.json(value))))
    }

    /// What the overview, /api/overview and /metrics show, after freeing the jobs of dead workers
    /// and expired leases as `ytauto status` does (whose shape /api/overview is): with no worker
    /// and no scheduler left, a dead worker's job stayed `running` in them for ever. It looks
    /// with reads (an index seek and the workers' locks) and writes only when something is found.
    func snapshot() async throws -> StatusSnapshot {
        do {
            let report = try await store.reclaimIfNeeded()
            if !report.isEmpty { logger.notice("freed the jobs of dead workers and expired leases: \(report.summary)") }
        } catch {
            logger.warning("could not look for dead workers, or free their jobs: \(error)")
        }
        let cache = self.cache
        return try await StatusSnapshot.read(store, folders: folders) { f in await cache.diskUsage(f, now: Date()) }
    }

    // MARK: - Bulk actions

    /// Retry or cancel every job matching a filter. The first POST only counts them and asks; the
    /// second (with `confirm` set to that count) does it, job by job, and says how many changed.
    /// Refuses a channel that neither the configuration nor the database knows (a mistyped
    /// name), naming the ones they do, as `ytauto-admin` does.
    func checkChannelKnown(_ channel: String?, status: HTTPResponse.Status) async throws {
        guard let channel, !channels.contains(where: { $0.name == channel }) else { return }
        if let unknown = UnknownChannel.message(channel, configured: channels.map(\.name), inDatabase: try await store.stats().counts.keys) {
            throw HTTPError(status, message: unknown)
        }
    }

    func bulk(_ form: [String: String], request: Request) async throws -> Response {
        guard let action = form["action"], action == "retry" || action == "cancel" else {
            throw HTTPError(.badRequest, message: "a bulk action is retry or cancel")
        }
        let filter = try Self.query { form[$0] }
        // A mistyped channel would match nothing, and "0 jobs match" would hide the typo.
        try await checkChannelKnown(filter.channel, status: .badRequest)
        // Which of the matching jobs the action applies to.
        let eligible: Set<JobState> = action == "retry" ? [.failed, .cancelled] : [.queued, .running]
        var ids: [Int64] = []
        var page = filter
        page.beforeID = nil
        while true {
            let batch = try await store.jobs(matching: page, limit: 500)
            ids += batch.filter { eligible.contains($0.state) }.map(\.id)
            guard let last = batch.last, batch.count == 500 else { break }
            page.beforeID = last.id
        }
        let described = Self.describe(filter)
        guard let confirm = form["confirm"] else {
            return try await html(request) { csrf in self.confirmPage(action: action, filter: filter, described: described, count: ids.count, csrf: csrf) }
        }
        guard let confirmed = Int(confirm) else { throw HTTPError(.badRequest, message: "confirm is the number of jobs the confirmation showed") }
        // Jobs came or went since the confirmation: nothing more than was confirmed is acted on.
        guard confirmed == ids.count else {
            return try await html(request) { csrf in
                self.confirmPage(action: action, filter: filter, described: described, count: ids.count, csrf: csrf, confirmedBefore: confirmed)
            }
        }
        var changed = 0
        var refused: [String] = []
        for id in ids {
            do {
                if action == "retry" { _ = try await store.retry(jobID: id) } else { _ = try await store.cancel(jobID: id) }
                changed += 1
            } catch {
                refused.append("job \(id): \(error)")
            }
        }
        let detail = "\(changed) of \(ids.count) jobs (\(confirm) when confirmed)" + (refused.isEmpty ? "" : "; refused: " + refused.prefix(5).joined(separator: "; "))
        try await audit("bulk-\(action)", "jobs \(described)", detail)
        var back = filter
        back.beforeID = nil
        return Self.redirect("/jobs" + Self.link(back, extra: notice("\(action): \(changed) of \(ids.count) jobs")))
    }

    static func describe(_ q: JobQuery) -> String {
        let parts = [("state", q.state?.rawValue), ("channel", q.channel), ("code", q.errorCode), ("topic contains", q.topicContains)]
            .compactMap { k, v in v.map { "\(k)=\($0)" } }
        return parts.isEmpty ? "(all)" : parts.joined(separator: " ")
    }

    static func link(_ q: JobQuery, extra: [(String, String?)] = []) -> String {
        HTML.query([("state", q.state?.rawValue), ("channel", q.channel), ("code", q.errorCode), ("q", q.topicContains),
                    ("before", q.beforeID.map(String.init))] + extra)
    }
}

/// `{"error": message}`, as the CLI's `--json` writes it.
func errorJSON(_ message: String) -> String { Output.json(["error": message]) }

/// Errors as a short page (or text for the API) with their status; anything unexpected is a 500
/// whose message is logged and shown (store errors name what failed and never hold a secret).
struct ErrorPage<Context: RequestContext>: RouterMiddleware {
    let logger: Logger

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as HTTPError {
            return Self.page(error.status, error.body ?? error.status.reasonPhrase, api: request.uri.path.hasPrefix("/api/"))
        } catch {
            logger.error("\(request.method) \(request.uri.path): \(error)")
            return Self.page(.internalServerError, "\(error)", api: request.uri.path.hasPrefix("/api/"))
        }
    }

    static func page(_ status: HTTPResponse.Status, _ message: String, api: Bool) -> Response {
        if api {
            return Response(status: status, headers: [.contentType: "application/json; charset=utf-8"],
                            body: .init(byteBuffer: ByteBuffer(string: errorJSON(message))))
        }
        let body = "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>\(status.code) · ytauto</title></head>"
            + "<body><h1>\(status.code) \(HTML.escape(status.reasonPhrase))</h1><p class=\"error\">\(HTML.escape(message))</p>"
            + "<p><a href=\"/\">Overview</a></p></body></html>"
        return Response(status: status, headers: [.contentType: "text/html; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: body)))
    }
}
