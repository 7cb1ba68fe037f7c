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

    public init(title: String, description: String, tags: [String], categoryID: String = "22", privacyStatus: String = "private",
                publishAt: Date? = nil, madeForKids: Bool = false, containsSyntheticMedia: Bool = true) {
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
        return ["snippet": ["title": t, "description": d, "tags": kept, "categoryId": categoryID], "status": status]
    }
}

/// Publishes to YouTube through the Data API v3: a resumable `videos.insert` in chunks, then
/// `thumbnails.set`. Never two videos for one job:
///
/// - the session URI is saved (through `save`, into the job's stage) before the first byte;
/// - after a crash or a dropped connection, the session is asked where it stands
///   (`Content-Range: bytes */TOTAL`) and the upload resumes from the 308's `Range`;
/// - the video id is saved the moment it is known; a retried stage with a saved id confirms it
///   with `videos.list` and does not upload again.
///
/// Errors: `quotaExceeded` / `uploadLimitExceeded` → ``YouTubeQuotaExceededError`` (parked until
/// the next midnight in Los Angeles, no attempt spent); 401 → one token refresh, then
/// ``YouTubeAuthError``; 5xx and network errors → retried here a few times with backoff, then a
/// retryable ``YouTubeUploadError``.
public struct YouTubeDataAPIUploader: YouTubeUploader {
    public typealias Notes = [String: String]

    let oauth: YouTubeOAuth
    let uploadBase: String
    let apiBase: String
    let chunkSize: Int
    let metadata: @Sendable (String, String, [String]) -> YouTubeMetadata
    let notes: Notes
    let save: @Sendable (Notes) async throws -> Void
    let usage: (@Sendable (_ unit: String, _ amount: Int) -> Void)?
    let http = HTTP(family: .youtube, timeout: .seconds(300))
    let clock: @Sendable () -> Date
    /// Sleeps between retries inside one attempt; tests pass a short one.
    let backoff: [Duration]
    /// Runs before a new upload session is opened (not when resuming one): the quota check.
    let beforeNewUpload: @Sendable () async throws -> Void

    /// - Parameters:
    ///   - notes: what earlier attempts saved (`session_uri`, `video_id`, `thumbnail_set`).
    ///   - save: saves notes durably before returning.
    ///   - chunkSize: bytes per request; a multiple of 256 KiB, as the protocol requires.
    public init(
        oauth: YouTubeOAuth, uploadBase: String, apiBase: String, chunkSize: Int = 8 << 20,
        metadata: @escaping @Sendable (_ title: String, _ description: String, _ tags: [String]) -> YouTubeMetadata,
        notes: Notes, save: @escaping @Sendable (Notes) async throws -> Void,
        usage: (@Sendable (_ unit: String, _ amount: Int) -> Void)? = nil,
        backoff: [Duration] = [.seconds(1), .seconds(2), .seconds(4), .seconds(8)],
        clock: @escaping @Sendable () -> Date = Date.init,
        beforeNewUpload: @escaping @Sendable () async throws -> Void = {}
    ) {
        self.beforeNewUpload = beforeNewUpload
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
    }

    public func upload(video: URL, title: String, description: String, tags: [String], thumbnail: URL?) async throws -> UploadResult {
        var notes = self.notes
        func remember(_ more: Notes) async throws {
            try await save(more)
            notes.merge(more) { _, n in n }
        }
        let total = try Self.size(video)
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
            var offset: Int64 = 0
            var session = notes["session_uri"]
            if let s = session {
                switch try await status(of: s, total: total) {
                case .done(let id):
                    try await remember(["video_id": id])
                    return try await finish(id, thumbnail: thumbnail, thumbnailSet: notes["thumbnail_set"] == "1", remember: remember)
                case .resumeAt(let o): offset = o
                case .gone: session = nil
                }
            }
            if session == nil {
                try await beforeNewUpload()
                let uri = try await start(total: total, title: title, description: description, tags: tags)
                try await remember(["session_uri": uri])  // before the first byte
                session = uri
                offset = 0
            }
            let id = try await send(video, session: session!, from: offset, total: total)
            try await remember(["video_id": id])
            videoID = id
        }
        return try await finish(videoID, thumbnail: thumbnail, thumbnailSet: notes["thumbnail_set"] == "1", remember: remember)
    }

    private func finish(_ id: String, thumbnail: URL?, thumbnailSet: Bool, remember: (Notes) async throws -> Void) async throws -> UploadResult {
        if let thumbnail, !thumbnailSet {
            try await setThumbnail(id, thumbnail)
            try await remember(["thumbnail_set": "1"])
        }
        return UploadResult(videoID: id, url: "https://youtu.be/\(id)")
    }

    static func size(_ url: URL) throws -> Int64 {
        let attrs = try FileManager.default.attributesOfItem(atPath: url.path)
        return (attrs[.size] as? NSNumber)?.int64Value ?? 0
    }

    // MARK: - Requests

    /// Sends a request with a bearer token; on 401 refreshes the token once and sends it again.
    func authorized(_ method: HTTPMethod, _ url: String, headers: [(String, String)], body: Data?) async throws -> HTTP.Reply {
        var reply = try await http.send(method, url, headers: [("Authorization", "Bearer \(try await oauth.accessToken())")] + headers, body: body)
        if reply.status == 401 {
            let fresh = try await oauth.refresh()
            reply = try await http.send(method, url, headers: [("Authorization", "Bearer \(fresh)")] + headers, body: body)
            if reply.status == 401 { throw YouTubeAuthError(message: "YouTube refused a freshly refreshed access token: \(reply.errorText)") }
        }
        try checkQuota(reply)
        return reply
    }

    func checkQuota(_ reply: HTTP.Reply) throws {
        guard reply.status == 403 || reply.status == 429 else { return }
        let reasons = ((reply.json?["error"] as? [String: Any])?["errors"] as? [[String: Any]] ?? []).compactMap { $0["reason"] as? String }
        if reasons.contains(where: { ["quotaExceeded", "uploadLimitExceeded", "dailyLimitExceeded", "rateLimitExceeded"].contains($0) }) {
            throw YouTubeQuotaExceededError(
                message: "YouTube: \(reasons.joined(separator: ", ")): \(reply.errorText)",
                retryAt: YouTubeQuotaExceededError.nextQuotaReset(after: clock()))
        }
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
            throw YouTubeUploadError(message: "videos.insert did not open a session: HTTP \(reply.status): \(reply.errorText)", isRetryable: false)
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
        default: throw YouTubeUploadError(message: "the upload session answered HTTP \(reply.status): \(reply.errorText)", isRetryable: reply.status >= 500)
        }
    }

    /// The byte after the 308's `Range: bytes=0-N`, or 0 when it has none.
    static func nextOffset(_ reply: HTTP.Reply) -> Int64 {
        guard let range = reply.header("Range"), let last = range.split(separator: "-").last, let n = Int64(last) else { return 0 }
        return n + 1
    }

    /// Sends the file from `offset` in chunks; on a drop or a 5xx asks the session and resumes.
    func send(_ video: URL, session: String, from start: Int64, total: Int64) async throws -> String {
        let handle = try FileHandle(forReadingFrom: video)
        defer { try? handle.close() }
        var offset = start
        var failures = 0
        while true {
            try Task.checkCancellation()
            try handle.seek(toOffset: UInt64(offset))
            let chunk = try handle.read(upToCount: chunkSize) ?? Data()
            let end = offset + Int64(chunk.count) - 1
            let failure: String
            do {
                let reply = try await authorized(.PUT, session, headers: [
                    ("Content-Length", String(chunk.count)), ("Content-Range", "bytes \(offset)-\(end)/\(total)"),
                    ("Content-Type", "video/mp4"),
                ], body: chunk)
                switch reply.status {
                case 200, 201:
                    return try Self.videoID(reply)
                case 308:
                    offset = Self.nextOffset(reply)
                    failures = 0
                    continue
                case 500...599:
                    failure = "HTTP \(reply.status): \(reply.errorText)"
                case 404, 410:
                    throw Self.expired
                default:
                    throw YouTubeUploadError(message: "a chunk was refused: HTTP \(reply.status): \(reply.errorText)", isRetryable: false)
                }
            } catch let e as ProviderError where e.isRetryable {
                failure = e.message  // dropped mid-chunk
            }
            // A drop or a server error: ask the session how much arrived, and go on from there.
            failures += 1
            try await pause(failures, failure)
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

    func pause(_ failures: Int, _ why: String) async throws {
        guard failures <= backoff.count else {
            throw YouTubeUploadError(message: "the upload kept failing (\(why)); it resumes on the next attempt", isRetryable: true)
        }
        try await Task.sleep(for: backoff[failures - 1])
    }

    func withRetries(_ what: String, _ body: () async throws -> HTTP.Reply) async throws -> HTTP.Reply {
        var failures = 0
        while true {
            do {
                let reply = try await body()
                if reply.status >= 500 {
                    failures += 1
                    try await pause(failures, "\(what): HTTP \(reply.status): \(reply.errorText)")
                    continue
                }
                return reply
            } catch let e as ProviderError where e.isRetryable {
                failures += 1
                try await pause(failures, "\(what): \(e.message)")
            }
        }
    }

    /// Whether a video exists (`videos.list`, 1 unit).
    func exists(_ id: String) async throws -> Bool {
        let reply = try await withRetries("confirming the uploaded video") {
            try await authorized(.GET, "\(apiBase)/youtube/v3/videos?part=id,status&id=\(id)", headers: [], body: nil)
        }
        usage?("units", 1)
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
            throw YouTubeUploadError(message: "thumbnails.set failed: HTTP \(reply.status): \(reply.errorText)", isRetryable: reply.status >= 500)
        }
    }
}
