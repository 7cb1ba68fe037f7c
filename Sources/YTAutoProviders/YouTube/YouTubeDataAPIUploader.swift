import Foundation
import NIOHTTP1
import YTAutoCore

/// What a video is published with (the `videos.insert` resource's snippet and status).
public struct YouTubeMetadata: Sendable, Hashable {
    public var title: String
    public var description: String
    public var tags: [String]
    public var categoryID: String
    public var privacyStatus: String
    public var publishAt: Date?
    public var madeForKids: Bool
    /// The altered-or-synthetic-content disclosure.
    public var containsSyntheticMedia: Bool
    /// The channel's `language:` (BCP-47): the video's `defaultLanguage` and
    /// `defaultAudioLanguage`, and its captions track's language.
    public var language: String

    public init(title: String, description: String, tags: [String], categoryID: String = "22", privacyStatus: String = "private",
                publishAt: Date? = nil, madeForKids: Bool = false, containsSyntheticMedia: Bool = true, language: String = "en") {
        self.language = language
        self.title = title
        self.description = description
        self.tags = tags
        self.categoryID = categoryID
        self.privacyStatus = privacyStatus
        self.publishAt = publishAt
        self.madeForKids = madeForKids
        self.containsSyntheticMedia = containsSyntheticMedia
    }

    /// The JSON resource, with YouTube's limits applied: title ≤ 100 characters without `<`/`>`,
    /// description ≤ 5,000 bytes, tags ≤ 500 characters in all; `publishAt` requires `private`.
    public var resource: [String: Any] {
        func clean(_ s: String) -> String { s.replacingOccurrences(of: "<", with: "").replacingOccurrences(of: ">", with: "") }
        var t = clean(title)
        if t.count > 100 { t = String(t.prefix(99)) + "…" }
        var d = clean(description)
        while d.utf8.count > 5000 { d.removeLast() }
        var kept: [String] = []
        var total = 0
        for tag in tags.map(clean) where total + tag.count + (tag.contains(" ") ? 2 : 0) + 1 <= 500 {
            kept.append(tag)
            total += tag.count + (tag.contains(" ") ? 2 : 0) + 1
        }
        var status: [String: Any] = [
            "privacyStatus": publishAt == nil ? privacyStatus : "private",
            "selfDeclaredMadeForKids": madeForKids,
            "containsSyntheticMedia": containsSyntheticMedia,
        ]
        if let publishAt { status["publishAt"] = Timestamp.string(publishAt) }
        return ["snippet": ["title": t, "description": d, "tags": kept, "categoryId": categoryID,
                            "defaultLanguage": language, "defaultAudioLanguage": language] as [String: Any], "status": status]
    }
}

/// Publishes to YouTube through the Data API v3: a resumable `videos.insert` in chunks, then
/// `thumbnails.set`. Never two videos for one job:
///
/// - the session URI is saved (through `save`, into the job's stage) before the first byte;
/// - after a crash or a dropped connection, the session is asked where it stands
///   (`Content-Range: bytes */TOTAL`) and the upload resumes from the 308's `Range`;
/// - the video id is saved the moment it is known; a retried stage with a saved id confirms it
///   with `videos.list` and does not upload again;
/// - `final_chunk_sent` is saved before the last chunk goes: if its answer is lost and the
///   session is gone by the next attempt (YouTube keeps one about a week), the channel's uploads
///   are asked (``findUploaded(_:since:)``, 2 units) for a video of this title added since the
///   session opened, and it is adopted instead of uploading a second copy.
///
/// Errors are told apart by Google's `reason` (``reasons(_:)``), whatever the status:
/// `quotaExceeded` / `dailyLimitExceeded` (403) and `uploadLimitExceeded` (400) →
/// ``YouTubeQuotaExceededError``, parked until the next midnight in Los Angeles without spending an
/// attempt; `rateLimitExceeded` / `userRateLimitExceeded` / 429 → retried here with backoff, then a
/// retryable ``YouTubeRateLimitError``; 401 → one token refresh, then ``YouTubeAuthError``; 5xx and
/// network errors → retried here with backoff, then a retryable ``YouTubeUploadError``. A session
/// that answers 308 without taking any of a chunk is given ``stallLimit`` tries, then the attempt
/// ends retryably. A thumbnail YouTube refuses does not fail the upload: the video is live, so the
/// refusal is recorded in the notes (`thumbnail_set: false`, `thumbnail_error`) and told to `warn`.
///
/// The captions (the narration's WebVTT file) go up after the thumbnail with `captions.insert`
/// (multipart: the snippet, then the file; 400 units, reserved with the upload), as a track named
/// ``captionsTrackName``. The insert is not idempotent, so `captions_started` is saved before it
/// is sent, and an attempt that finds it without a `captions_id` first asks `captions.list`
/// (50 units) whether the track landed, and only sends it again if it did not: a crash or a
/// dropped connection never makes two tracks. Like the thumbnail, a refusal (a grant without the
/// `youtube.force-ssl` scope, a 403, a 5xx) leaves the video live: it is recorded
/// (`captions_set: false`, `captions_error`) and told to `warn`. The day's quota running out
/// parks the stage as for the upload, and the captions go up after the reset.
public struct YouTubeDataAPIUploader: VideoPublisher {
    public typealias Notes = [String: String]

    let oauth: YouTubeOAuth
    let uploadBase: String
    let apiBase: String
    let chunkSize: Int
    let metadata: @Sendable (String, String, [String]) -> YouTubeMetadata
    let notes: Notes
    let save: @Sendable (Notes) async throws -> Void
    let usage: (@Sendable (_ unit: String, _ amount: Int) async -> Void)?
    let http = HTTP(family: .youtube, timeout: .seconds(300))
    let clock: @Sendable () -> Date
    /// Sleeps between retries inside one attempt; tests pass a short one.
    let backoff: [Duration]
    /// The daily quota's reservation, taken when a session opens (nil: no local check).
    let quota: YouTubeQuota?
    /// Told what went wrong without failing the upload (a refused thumbnail); the caller logs it.
    let warn: @Sendable (String) -> Void

    /// 308s in a row that take none of a chunk before the attempt gives up on the session.
    public static let stallLimit = 3

    /// - Parameters:
    ///   - notes: what earlier attempts saved (`session_uri`, `video_id`, `quota_reserved`, `thumbnail_set`).
    ///   - save: saves notes durably before returning.
    ///   - chunkSize: bytes per request; a multiple of 256 KiB, as the protocol requires.
    public init(
        oauth: YouTubeOAuth, uploadBase: String, apiBase: String, chunkSize: Int = 8 << 20,
        metadata: @escaping @Sendable (_ title: String, _ description: String, _ tags: [String]) -> YouTubeMetadata,
        notes: Notes, save: @escaping @Sendable (Notes) async throws -> Void,
        usage: (@Sendable (_ unit: String, _ amount: Int) async -> Void)? = nil,
        backoff: [Duration] = [.seconds(1), .seconds(2), .seconds(4), .seconds(8)],
        clock: @escaping @Sendable () -> Date = Date.init,
        quota: YouTubeQuota? = nil,
        warn: @escaping @Sendable (String) -> Void = { _ in }
    ) {
        self.oauth = oauth
        self.uploadBase = uploadBase
        self.apiBase = apiBase
        self.chunkSize = max(256 << 10, chunkSize / (256 << 10) * (256 << 10))
        self.metadata = metadata
        self.notes = notes
        self.save = save
        self.usage = usage
        self.backoff = backoff
        self.clock = clock
        self.quota = quota
        self.warn = warn
    }

    /// The name of the captions track ytauto adds (what viewers see beside the language).
    public static let captionsTrackName = "Narration"

    public func publish(video: URL, title: String, description: String, tags: [String], thumbnail: URL?, captions: URL?) async throws -> PublishResult {
        var notes = self.notes
        func remember(_ more: Notes) async throws {
            try await save(more)
            notes.merge(more) { _, n in n }
        }
        let total = try Self.size(video)
        /// The video's id: from the saved session if it finished, or found in the channel's
        /// uploads if the session is gone after its last chunk, else from sending the file.
        func uploadedID() async throws -> String {
            var offset: Int64 = 0
            var session = notes["session_uri"].flatMap { $0.isEmpty ? nil : $0 }
            if let s = session {
                switch try await status(of: s, total: total) {
                case .done(let id): return id
                case .resumeAt(let o): offset = o
                case .gone:
                    // A session forgets an upload it finished after about a week: one whose last
                    // chunk went may be a video whose id never reached us. Look before sending it again.
                    if notes["final_chunk_sent"] == "true",
                       let id = try await findUploaded(metadata(title, description, tags), since: notes["session_opened_at"].flatMap(Timestamp.date)) {
                        return id
                    }
                    session = nil
                }
            }
            if session == nil {
                session = try await open(total: total, title: title, description: description, tags: tags,
                                         reserved: notes["quota_reserved"] ?? "", remember: remember)
                offset = 0
            }
            return try await send(video, session: session!, from: offset, total: total) {
                if notes["final_chunk_sent"] != "true" { try await remember(["final_chunk_sent": "true"]) }
            }
        }
        let videoID: String
        if let recorded = notes["video_id"] {
            guard try await exists(recorded) else {
                throw YouTubeUploadError(
                    message: "video \(recorded) was uploaded for this job but videos.list does not find it (deleted?); "
                        + "refusing to upload a second copy. Clear the publish stage's notes to upload again.",
                    isRetryable: false)
            }
            videoID = recorded
        } else {
            videoID = try await uploadedID()
            try await remember(["video_id": videoID])
        }
        let result = try await finish(videoID, thumbnail: thumbnail, notes: notes, remember: remember)
        try await addCaptions(videoID, captions, notes: notes, remember: remember)
        return result
    }

    /// Adds the captions track unless an earlier attempt did (see the type's notes).
    private func addCaptions(_ id: String, _ file: URL?, notes: Notes, remember: (Notes) async throws -> Void) async throws {
        guard let file, (notes["captions_id"] ?? "").isEmpty else { return }
        func refused(_ why: String) async throws {
            try await remember(["captions_set": "false", "captions_error": why])
            warn("video \(id) is published, but its captions were not added: \(why)")
        }
        if let granted = await oauth.grantedScope(), !granted.split(separator: " ").contains(Substring(YouTubeOAuth.captionsScope)) {
            return try await refused("the YouTube grant lacks the \(YouTubeOAuth.captionsScope) scope that captions.insert needs; "
                + "run `ytauto auth youtube` again")
        }
        do {
            if notes["captions_started"] == "true", let landed = try await findCaptions(id) {
                try await remember(["captions_id": landed, "captions_set": "true"])
                return
            }
            try await remember(["captions_started": "true"])
            let track: String
            do {
                track = try await insertCaptions(id, file)
            } catch let e where !(e is CancellationError) && !(e is YouTubeQuotaExceededError) && (e as? YouTubeUploadError)?.isRetryable != false {
                // No answer, or a 5xx: it may have landed before the answer was lost (a 4xx says it did not).
                if let landed = try? await findCaptions(id) {
                    try await remember(["captions_id": landed, "captions_set": "true", "captions_error": ""])
                    return
                }
                throw e
            }
            try await remember(["captions_id": track, "captions_set": "true", "captions_error": ""])
        } catch is CancellationError {
            throw CancellationError()
        } catch let e as YouTubeQuotaExceededError {
            throw e
        } catch {
            try await refused(JobFailure(error).description)
        }
    }

    /// The id of the track ytauto added to video `id`, if `captions.list` shows one (50 units).
    func findCaptions(_ id: String) async throws -> String? {
        let reply = try await withRetries("listing the captions") {
            try await authorized(.GET, "\(apiBase)/youtube/v3/captions?part=snippet&videoId=\(id)", headers: [], body: nil)
        }
        await usage?("units", 50)
        guard reply.status == 200 else {
            throw YouTubeUploadError(message: "captions.list refused: \(Self.describe(reply))", isRetryable: reply.status >= 500)
        }
        let items = reply.json?["items"] as? [[String: Any]] ?? []
        return items.first { ($0["snippet"] as? [String: Any])?["name"] as? String == Self.captionsTrackName }?["id"] as? String
    }

    /// Sends `captions.insert` once for video `id`: a failed send is not repeated here, since it
    /// may have landed; the next attempt asks ``findCaptions(_:)`` first.
    func insertCaptions(_ id: String, _ file: URL) async throws -> String {
        let boundary = "ytauto-" + UUID().uuidString
        let snippet = try JSONSerialization.data(withJSONObject: ["snippet": [
            "videoId": id, "language": metadata("", "", []).language, "name": Self.captionsTrackName, "isDraft": false,
        ] as [String: Any]], options: [.sortedKeys])
        var body = Data("--\(boundary)\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n".utf8)
        body.append(snippet)
        body.append(Data("\r\n--\(boundary)\r\nContent-Type: text/vtt\r\n\r\n".utf8))
        body.append(try Data(contentsOf: file))
        body.append(Data("\r\n--\(boundary)--\r\n".utf8))
        let reply = try await authorized(
            .POST, "\(uploadBase)/youtube/v3/captions?part=snippet&uploadType=multipart",
            headers: [("Content-Type", "multipart/related; boundary=\(boundary)"), ("Content-Length", String(body.count))], body: body)
        guard reply.status == 200, let track = reply.json?["id"] as? String else {
            throw YouTubeUploadError(message: "captions.insert refused: \(Self.describe(reply))", isRetryable: reply.status >= 500)
        }
        return track
    }


    /// Opens a new session and saves its URI before the first byte, holding the job's quota
    /// reservation while it does. The reservation (`quota_reserved`, its Pacific day) belongs to
    /// the job, not to one session: a session that expired passes it to the next, so a job is
    /// counted once. When no session opens (the token refresh failed, YouTube refused the insert,
    /// the worker is shutting down), it is given back: only uploads that start use the quota.
    private func open(
        total: Int64, title: String, description: String, tags: [String], reserved: String, remember: (Notes) async throws -> Void
    ) async throws -> String {
        var day = reserved
        if let quota, day.isEmpty {
            day = try await quota.reserve()
            do {
                try await remember(["quota_reserved": day])
            } catch {
                await giveBack(day, because: error)
                throw error
            }
        }
        do {
            let uri = try await start(total: total, title: title, description: description, tags: tags)
            // Before the first byte; a new session's last chunk is not sent yet.
            try await remember(["session_uri": uri, "session_opened_at": Timestamp.string(clock()), "final_chunk_sent": ""])
            return uri
        } catch {
            if quota != nil, !day.isEmpty {
                // The notes first: if that write fails, notes and ledger still agree that the job holds it.
                do {
                    try await remember(["quota_reserved": ""])
                    await giveBack(day, because: error)
                } catch let noted {
                    warn("the quota reservation of \(day) stays with the job: its notes could not be updated (\(JobFailure(noted).description))")
                }
            }
            throw error
        }
    }

    private func giveBack(_ day: String, because error: any Error) async {
        guard let quota else { return }
        do {
            try await quota.release(day: day)
        } catch let failed {
            warn("no upload session opened (\(JobFailure(error).description)) but its \(quota.cost) quota units of \(day) "
                + "could not be given back: \(JobFailure(failed).description)")
        }
    }

    /// Sets the thumbnail unless an earlier attempt did. A refusal (a channel not allowed custom
    /// thumbnails, a 5xx that outlasted the retries) leaves the video as it is, live: it is
    /// recorded (`thumbnail_set: false`, `thumbnail_error`) and told to ``warn``, and the upload succeeds.
    /// A limit that passes is not a refusal: the day's quota used up parks the stage until the
    /// reset, and a rate limit that outlasts the retries ends the attempt retryably (at its
    /// `Retry-After`), both recorded the same way first; the next attempt finds the video by its
    /// id and sets the thumbnail then.
    private func finish(_ id: String, thumbnail: URL?, notes: Notes, remember: (Notes) async throws -> Void) async throws -> PublishResult {
        let result = PublishResult(videoID: id, url: "https://youtu.be/\(id)")
        guard let thumbnail, notes["thumbnail_set"] != "true", notes["thumbnail_set"] != "1" else { return result }
        do {
            try await setThumbnail(id, thumbnail)
        } catch is CancellationError {
            throw CancellationError()
        } catch let e as YouTubeQuotaExceededError {
            try await remember(["thumbnail_set": "false", "thumbnail_error": e.description])
            throw YouTubeQuotaExceededError(message: "video \(id) is published, its thumbnail not yet: \(e.message)", retryAt: e.retryAt)
        } catch let e as YouTubeRateLimitError {
            try await remember(["thumbnail_set": "false", "thumbnail_error": e.description])
            throw YouTubeRateLimitError(message: "video \(id) is published, its thumbnail not yet: \(e.message)", retryAt: e.retryAt)
        } catch {
            let why = JobFailure(error).description
            try await remember(["thumbnail_set": "false", "thumbnail_error": why])
            warn("video \(id) is published, but its thumbnail was not set: \(why)")
            return result
        }
        try await remember(notes["thumbnail_error"] == nil ? ["thumbnail_set": "true"] : ["thumbnail_set": "true", "thumbnail_error": ""])
        return result
    }

    static func size(_ url: URL) throws -> Int64 {
        let attrs = try FileManager.default.attributesOfItem(atPath: url.path)
        return (attrs[.size] as? NSNumber)?.int64Value ?? 0
    }

    // MARK: - Requests

    /// Sends a request with a bearer token; on 401 refreshes the token once and sends it again.
    /// Then reads the reply's reasons: a quota or a rate limit throws, whatever the status.
    func authorized(_ method: HTTPMethod, _ url: String, headers: [(String, String)], body: Data?) async throws -> HTTP.Reply {
        var reply = try await http.send(method, url, headers: [("Authorization", "Bearer \(try await oauth.accessToken())")] + headers, body: body)
        if reply.status == 401 {
            let fresh = try await oauth.refresh()
            reply = try await http.send(method, url, headers: [("Authorization", "Bearer \(fresh)")] + headers, body: body)
            if reply.status == 401 {
                throw YouTubeAuthError(message: "YouTube refused a freshly refreshed access token (\(Self.describe(reply))); the grant was probably revoked")
            }
        }
        try checkLimits(reply)
        return reply
    }

    /// Reasons that mean the day's quota or the channel's upload limit: they last until the reset.
    static let quotaReasons: Set<String> = ["quotaexceeded", "dailylimitexceeded", "uploadlimitexceeded"]
    /// Reasons of a short-term limit (the `status`/`details` spellings included): they pass in minutes.
    static let rateReasons: Set<String> = ["ratelimitexceeded", "userratelimitexceeded", "resourceexhausted"]

    func checkLimits(_ reply: HTTP.Reply) throws {
        guard reply.status >= 400 else { return }
        let reasons = Set(Self.reasons(reply).map { $0.lowercased().replacingOccurrences(of: "_", with: "") })
        if !reasons.isDisjoint(with: Self.quotaReasons) {
            throw YouTubeQuotaExceededError(
                message: "YouTube: \(Self.describe(reply)); parked until the quota resets at midnight Pacific",
                retryAt: YouTubeQuotaExceededError.nextQuotaReset(after: clock()))
        }
        if reply.status == 429 || !reasons.isDisjoint(with: Self.rateReasons) {
            throw YouTubeRateLimitError(message: "YouTube's short-term rate limit: \(Self.describe(reply))", retryAt: reply.retryAfter(now: clock()))
        }
    }

    /// Google's reasons for an error, from each place its error format puts them:
    /// `error.errors[].reason` (the Data API's own, such as `quotaExceeded`), `error.details[].reason`
    /// (a `google.rpc.ErrorInfo`, such as `RATE_LIMIT_EXCEEDED`) and `error.status` (such as `RESOURCE_EXHAUSTED`).
    static func reasons(_ reply: HTTP.Reply) -> [String] {
        guard let error = reply.json?["error"] as? [String: Any] else { return [] }
        var found = ((error["errors"] as? [[String: Any]]) ?? []).compactMap { $0["reason"] as? String }
        found += ((error["details"] as? [[String: Any]]) ?? []).compactMap { $0["reason"] as? String }
        if let status = error["status"] as? String { found.append(status) }
        var seen = Set<String>()
        return found.filter { seen.insert($0).inserted }
    }

    /// `HTTP 403 quotaExceeded, PERMISSION_DENIED: <Google's message>`, for error messages.
    static func describe(_ reply: HTTP.Reply) -> String {
        let reasons = Self.reasons(reply)
        let message = ((reply.json?["error"] as? [String: Any])?["message"] as? String) ?? reply.errorText
        return "HTTP \(reply.status)" + (reasons.isEmpty ? "" : " " + reasons.joined(separator: ", ")) + ": " + message
    }

    func start(total: Int64, title: String, description: String, tags: [String]) async throws -> String {
        let meta = metadata(title, description, tags)
        let body = try jsonBody(meta.resource)
        let url = "\(uploadBase)/youtube/v3/videos?uploadType=resumable&part=snippet,status"
        let reply = try await withRetries("starting the upload") {
            try await authorized(.POST, url, headers: [
                ("Content-Type", "application/json; charset=UTF-8"), ("X-Upload-Content-Length", String(total)),
                ("X-Upload-Content-Type", "video/mp4"),
            ], body: body)
        }
        guard reply.status == 200 || reply.status == 201, let location = reply.header("Location") else {
            throw YouTubeUploadError(message: "videos.insert did not open a session: \(Self.describe(reply))", isRetryable: false)
        }
        return location
    }

    enum SessionStatus { case done(String), resumeAt(Int64), gone }

    /// Asks a session how much it has (`Content-Range: bytes */TOTAL`).
    func status(of session: String, total: Int64) async throws -> SessionStatus {
        let reply = try await withRetries("asking the upload session where it stands") {
            try await authorized(.PUT, session, headers: [("Content-Range", "bytes */\(total)"), ("Content-Length", "0")], body: Data())
        }
        switch reply.status {
        case 200, 201:
            return .done(try Self.videoID(reply))
        case 308: return .resumeAt(Self.nextOffset(reply))
        case 404, 410: return .gone
        default: throw YouTubeUploadError(message: "the upload session answered \(Self.describe(reply))", isRetryable: reply.status >= 500)
        }
    }

    /// The byte after the 308's `Range: bytes=0-N`, or 0 when it has none.
    static func nextOffset(_ reply: HTTP.Reply) -> Int64 {
        guard let range = reply.header("Range"), let last = range.split(separator: "-").last, let n = Int64(last) else { return 0 }
        return n + 1
    }

    /// Sends the file from `offset` in chunks; on a drop, a 5xx or a rate limit asks the session
    /// and resumes. A 308 that takes none of a chunk is followed (the session's word on where it
    /// stands) ``stallLimit`` times in a row at most, so a stuck session cannot loop forever.
    func send(_ video: URL, session: String, from start: Int64, total: Int64,
              beforeLastChunk: () async throws -> Void = {}) async throws -> String {
        let handle = try FileHandle(forReadingFrom: video)
        defer { try? handle.close() }
        var offset = start
        var failures = 0
        var stalls = 0
        while true {
            try Task.checkCancellation()
            try handle.seek(toOffset: UInt64(offset))
            let chunk = try handle.read(upToCount: chunkSize) ?? Data()
            let end = offset + Int64(chunk.count) - 1
            if end == total - 1 { try await beforeLastChunk() }
            let failure: any YTAutoError
            do {
                let reply = try await authorized(.PUT, session, headers: [
                    ("Content-Length", String(chunk.count)), ("Content-Range", "bytes \(offset)-\(end)/\(total)"),
                    ("Content-Type", "video/mp4"),
                ], body: chunk)
                switch reply.status {
                case 200, 201:
                    return try Self.videoID(reply)
                case 308:
                    let next = Self.nextOffset(reply)
                    if next > offset {
                        offset = next
                        failures = 0
                        stalls = 0
                        continue
                    }
                    stalls += 1
                    guard stalls < Self.stallLimit else {
                        throw YouTubeUploadError(
                            message: "YouTube's upload session took none of the last \(stalls) chunks sent from byte \(offset) of \(total) "
                                + "(each answered 308 with \(reply.header("Range").map { "Range: \($0)" } ?? "no Range")); "
                                + "the session is stuck, so this attempt stops; the next one asks it where it stands and resumes",
                            isRetryable: true)
                    }
                    offset = next
                    if !backoff.isEmpty { try await Task.sleep(for: backoff[min(stalls, backoff.count) - 1]) }
                    continue
                case 500...599:
                    failure = YouTubeUploadError(message: Self.describe(reply), isRetryable: true)
                case 404, 410:
                    throw Self.expired
                default:
                    throw YouTubeUploadError(message: "a chunk was refused: \(Self.describe(reply))", isRetryable: false)
                }
            } catch let e as ProviderError where e.isRetryable {
                failure = e  // dropped mid-chunk
            } catch let e as YouTubeRateLimitError {
                failure = e
            }
            // A drop, a server error or a rate limit: ask the session how much arrived, and go on from there.
            failures += 1
            try await pause(failures, after: failure, "sending the video")
            switch try await status(of: session, total: total) {
            case .done(let id): return id
            case .resumeAt(let o): offset = o
            case .gone: throw Self.expired
            }
        }
    }

    static let expired = YouTubeUploadError(message: "the upload session expired; the next attempt starts a new one", isRetryable: true)

    /// The id in a finished upload's answer.
    static func videoID(_ reply: HTTP.Reply) throws -> String {
        guard let id = reply.json?["id"] as? String else {
            throw YouTubeUploadError(message: "the finished upload returned no video id: \(reply.errorText)", isRetryable: true)
        }
        return id
    }

    /// The longest `Retry-After` waited inside an attempt; a longer one ends the attempt at once,
    /// and the job comes back at that time.
    public static let longestInlineWait: TimeInterval = 60

    /// Waits the next step of ``backoff``, or a rate limit's `Retry-After` when that is longer;
    /// when the steps are used up, or the `Retry-After` is past ``longestInlineWait``, ends the
    /// attempt with a retryable error: a rate limit as itself (the job comes back at its
    /// `Retry-After`, or after its backoff; it is not parked), anything else as an upload error.
    func pause(_ failures: Int, after failure: any YTAutoError, _ what: String) async throws {
        let asked = (failure as? YouTubeRateLimitError)?.retryAt.map { $0.timeIntervalSince(clock()) } ?? 0
        guard failures <= backoff.count, asked <= Self.longestInlineWait else {
            if let limited = failure as? YouTubeRateLimitError {
                let when = asked > Self.longestInlineWait
                    ? "YouTube asks for \(Int(asked.rounded(.up))) s, so the job comes back then"
                    : "the job tries again " + (limited.retryAt == nil ? "after its backoff" : "when YouTube's Retry-After has passed")
                throw YouTubeRateLimitError(message: "\(what): still rate-limited after \(failures) tries (\(limited.message)); \(when)",
                                            retryAt: limited.retryAt)
            }
            throw YouTubeUploadError(message: "\(what) kept failing (\(failure.message)); it resumes on the next attempt", isRetryable: true)
        }
        try await Task.sleep(for: max(backoff[failures - 1], .milliseconds(Int64((asked * 1000).rounded(.up)))))
    }

    func withRetries(_ what: String, _ body: () async throws -> HTTP.Reply) async throws -> HTTP.Reply {
        var failures = 0
        while true {
            let failure: any YTAutoError
            do {
                let reply = try await body()
                guard reply.status >= 500 else { return reply }
                failure = YouTubeUploadError(message: Self.describe(reply), isRetryable: true)
            } catch let e as ProviderError where e.isRetryable {
                failure = e
            } catch let e as YouTubeRateLimitError {
                failure = e
            }
            failures += 1
            try await pause(failures, after: failure, what)
        }
    }

    /// The id of a video of the channel's uploads with `meta`'s title, added at or after `since`
    /// (a minute's leeway for clocks), or nil: `channels.list` for the uploads playlist, then its
    /// newest 50 items with `playlistItems.list` (1 unit each). An owner's private videos are listed to it.
    func findUploaded(_ meta: YouTubeMetadata, since: Date?) async throws -> String? {
        let channels = try await withRetries("finding the channel's uploads") {
            try await authorized(.GET, "\(apiBase)/youtube/v3/channels?part=contentDetails&mine=true", headers: [], body: nil)
        }
        await usage?("units", 1)
        guard channels.status == 200 else { throw http.unexpected(channels, during: "channels.list") }
        let items = channels.json?["items"] as? [[String: Any]] ?? []
        guard let playlist = ((items.first?["contentDetails"] as? [String: Any])?["relatedPlaylists"] as? [String: Any])?["uploads"] as? String else {
            return nil
        }
        let listed = try await withRetries("listing the channel's uploads") {
            try await authorized(.GET, "\(apiBase)/youtube/v3/playlistItems?part=snippet,contentDetails&maxResults=50&playlistId=\(playlist)",
                                 headers: [], body: nil)
        }
        await usage?("units", 1)
        guard listed.status == 200 else { throw http.unexpected(listed, during: "playlistItems.list") }
        let title = (meta.resource["snippet"] as? [String: Any])?["title"] as? String
        for item in listed.json?["items"] as? [[String: Any]] ?? [] {
            let snippet = item["snippet"] as? [String: Any] ?? [:]
            guard snippet["title"] as? String == title, let id = (item["contentDetails"] as? [String: Any])?["videoId"] as? String else { continue }
            if let since, let added = (snippet["publishedAt"] as? String).flatMap(Timestamp.date), added < since.addingTimeInterval(-60) { continue }
            return id
        }
        return nil
    }

    /// Whether a video exists (`videos.list`, 1 unit).
    func exists(_ id: String) async throws -> Bool {
        let reply = try await withRetries("confirming the uploaded video") {
            try await authorized(.GET, "\(apiBase)/youtube/v3/videos?part=id,status&id=\(id)", headers: [], body: nil)
        }
        await usage?("units", 1)
        guard reply.status == 200 else { throw http.unexpected(reply, during: "videos.list") }
        return !((reply.json?["items"] as? [Any]) ?? []).isEmpty
    }

    func setThumbnail(_ id: String, _ file: URL) async throws {
        let data = try Data(contentsOf: file)
        let reply = try await withRetries("setting the thumbnail") {
            try await authorized(.POST, "\(uploadBase)/youtube/v3/thumbnails/set?videoId=\(id)&uploadType=media",
                                 headers: [("Content-Type", "image/jpeg"), ("Content-Length", String(data.count))], body: data)
        }
        guard reply.status == 200 else {
            throw YouTubeUploadError(message: "thumbnails.set refused: \(Self.describe(reply))", isRetryable: reply.status >= 500)
        }
    }
}
