import Foundation
import YTAutoSupport

/// A loopback YouTube: Google's OAuth token endpoint and the Data API v3 endpoints ytauto uses
/// (`videos.insert` as a resumable upload, `videos.list`, `thumbnails.set`, `captions.insert` as a
/// multipart upload and `captions.list`), with the real status
/// codes and error bodies. Tests switch on failures: a quota error, an expired token, a dropped chunk.
///
/// Error bodies follow Google's documented format, `{"error": {"code", "message", "errors":
/// [{"domain", "reason", "message"}], "status"}}`, with the status and reason each error has in the
/// Data API's error reference (`uploadLimitExceeded` is a 400, `quotaExceeded` a 403); the newer
/// `google.rpc` shape (`status: RESOURCE_EXHAUSTED`, a `details` ErrorInfo, no `errors`) is used for
/// a 429. An expired upload session answers 404 (or 410), as the resumable-upload guide says:
/// the upload must start again from the beginning.
///
/// The resumable protocol is checked as Google's upload servers check it: `videos.insert` needs
/// `uploadType=resumable` and the `part` parameter (400 `required` without it); every chunk but
/// the last must be a multiple of 256 KiB (262,144 bytes) and its `Content-Range` must match its
/// length, else 400 `badRequest`; a chunk that starts before where the session stands (a replay)
/// is taken from the session's end on, as Cloud Storage's upload servers take it; one that starts
/// past it (a gap) is refused with 400 `badRequest` ("the upload offset is N byte(s), which
/// exceeds already uploaded size of M byte(s)"). ``Injection``s put one of ``Fault`` at a step of
/// the upload, for the matrix tests.
public final class FakeYouTube: @unchecked Sendable {
    // `@unchecked` is safe: all state is in `Locked` boxes.
    public struct Session: Sendable {
        public var metadata: [String: Any] { (try? JSONSerialization.jsonObject(with: metadataJSON) as? [String: Any]) ?? [:] }
        public var metadataJSON: Data
        public var total: Int
        public var received = Data()
        public var videoID: String?
    }

    /// How a short-term rate limit is answered.
    public enum RateLimitStyle: Sendable {
        /// 403 `rateLimitExceeded` in `errors[]`, as the Data API's error reference has it.
        case dataAPI
        /// 429 `RESOURCE_EXHAUSTED` with a `google.rpc.ErrorInfo` reason `RATE_LIMIT_EXCEEDED`, no `errors[]`.
        case rpc
    }

    /// A step of the upload, where a ``Fault`` can be put.
    public enum Step: String, Sendable, CaseIterable {
        /// `POST /upload/youtube/v3/videos?uploadType=resumable`: opening the session.
        case start
        /// A `PUT` of bytes to the session.
        case chunk
        /// `PUT` with `Content-Range: bytes */TOTAL`: asking the session where it stands.
        case status
        /// `thumbnails.set`.
        case thumbnail
    }

    /// What goes wrong at a step, each answered as the Data API documents it.
    public enum Fault: Sendable, Hashable, CustomStringConvertible {
        /// 500 or 503 with reason `backendError` (the guide: resume with exponential backoff).
        case serverError(Int)
        /// 403 `rateLimitExceeded`.
        case rateLimited
        /// 403 `quotaExceeded`.
        case quotaExceeded
        /// 400 `uploadLimitExceeded`.
        case uploadLimitExceeded
        /// 404 or 410: the session expired and is gone for good (the guide: start again).
        case expired(Int)
        /// The connection closes without an answer.
        case drop
        /// 401: the access token expired (every token handed out so far stops working).
        case unauthorized

        public var description: String {
            switch self {
            case .serverError(let c): "HTTP \(c)"
            case .rateLimited: "rateLimitExceeded"
            case .quotaExceeded: "quotaExceeded"
            case .uploadLimitExceeded: "uploadLimitExceeded"
            case .expired(let c): "expired (HTTP \(c))"
            case .drop: "dropped connection"
            case .unauthorized: "expired access token"
            }
        }
    }

    /// `fault` at `step`: the first `skip` requests of that step pass, the next `times` get the fault.
    public struct Injection: Sendable {
        public var step: Step
        public var fault: Fault
        public var skip: Int
        public var times: Int
        public init(_ fault: Fault, at step: Step, skip: Int = 0, times: Int = 1) {
            self.step = step
            self.fault = fault
            self.skip = skip
            self.times = times
        }
    }

    /// A captions track on a video, as `captions.insert` stored it.
    public struct Caption: Sendable, Hashable {
        public var id: String
        public var name: String
        public var language: String
        public var isDraft: Bool
        public var body: Data
    }

    public struct State: Sendable {
        public var refreshToken = "refresh-1"
        public var validAccessTokens: Set<String> = []
        public var issued = 0
        public var sessions: [String: Session] = [:]
        public var videos: [String: Data] = [:]
        public var thumbnails: [String: Data] = [:]
        /// Captions tracks by video id.
        public var captions: [String: [Caption]] = [:]
        /// Refuse captions.insert with 403 forbidden.
        public var captionsForbidden = false
        /// Store this many captions.insert requests, then close the connection without answering.
        public var dropCaptionsAfterStoring = 0
        public var log: [String] = []
        /// Answer the next videos.insert with 403 quotaExceeded.
        public var quotaExceeded = false
        /// Answer videos.insert with 400 uploadLimitExceeded (the channel's own upload limit).
        public var uploadLimitExceeded = false
        /// Answer this many of the next API requests (not the token endpoint) with a rate limit.
        public var rateLimited = 0
        public var rateLimitStyle = RateLimitStyle.dataAPI
        /// The authorisation-code grant answers without a `refresh_token` (as Google does for a
        /// grant made earlier without `prompt=consent`).
        public var codeRepliesWithoutRefresh = false
        /// The `Retry-After` of the `.rpc` style's 429, in seconds.
        public var retryAfterSeconds = 1
        /// When each rate-limited request came, and when the first one after them did.
        public var limitedAt: [Date] = []
        public var firstAfterLimitsAt: Date?
        /// Answer this many chunk PUTs with a 308 whose Range does not move: the session keeps none of the chunk.
        public var stalledChunks = 0
        /// Refuse thumbnails.set with 403 forbidden (a channel not allowed custom thumbnails).
        public var thumbnailsForbidden = false
        /// Refuse every access token with 401, also freshly refreshed ones (the grant was revoked after they were issued).
        public var refuseAccessTokens = false
        /// Answer this many refreshes with a 503 from the token endpoint.
        public var tokenServerErrors = 0
        /// Sessions opened so far (session ids are never reused, also after one expired).
        public var opened = 0
        /// Drop the connection on this many chunk PUTs, keeping half of each chunk's bytes.
        public var dropChunks = 0
        /// The scopes the token endpoint says a token has.
        public var grantedScope = "https://www.googleapis.com/auth/youtube.upload https://www.googleapis.com/auth/youtube.readonly "
            + "https://www.googleapis.com/auth/youtube.force-ssl"
        /// Revoke the refresh token: the token endpoint answers invalid_grant.
        public var revoked = false
        public var authCodes: [String: String] = [:]
        /// Faults to put at steps of the upload (see ``Injection``).
        public var injections: [Injection] = []
        /// Faults answered so far, as `"step fault"`.
        public var injected: [String] = []
        /// Chunks refused because they started past where their session stood.
        public var refusedGaps = 0
        /// Sessions that expired, with the status they answer from then on.
        public var expired: [String: Int] = [:]
        /// Uploads the fake completed: each is one video on the channel.
        public var completed: Int { videos.count }
        /// Each video's title and when it was added to the channel's uploads, for `playlistItems.list`.
        public var uploads: [(videoID: String, title: String, at: Date)] = []
        /// Store this many final chunks (the video is made) and then close the connection without answering.
        public var dropAfterCompleting = 0
    }

    public let state = Locked(State())
    public private(set) var server: LoopbackServer!
    public var base: String { server.baseURL }

    public init() throws {
        server = try LoopbackServer { [state] req in Self.handle(req, state) }
    }

    static func youtubeError(_ code: Int, _ message: String, reason: String, domain: String = "global") -> LoopbackReply {
        let status = [400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 404: "NOT_FOUND", 410: "NOT_FOUND", 429: "RESOURCE_EXHAUSTED",
                      500: "INTERNAL", 503: "UNAVAILABLE"][code] ?? "PERMISSION_DENIED"
        return .json(code, ["error": ["code": code, "message": message, "errors": [["message": message, "domain": domain, "reason": reason]],
                                      "status": status]])
    }

    static func rateLimit(_ style: RateLimitStyle, retryAfter: Int = 1) -> LoopbackReply {
        switch style {
        case .dataAPI:
            return youtubeError(403, "The request cannot be completed because you have exceeded your rate limit.",
                                reason: "rateLimitExceeded", domain: "youtube.quota")
        case .rpc:
            return .json(429, ["error": [
                "code": 429, "message": "Quota exceeded for quota metric 'Queries' and limit 'Queries per minute' of service 'youtube.googleapis.com'.",
                "status": "RESOURCE_EXHAUSTED",
                "details": [["@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "RATE_LIMIT_EXCEEDED",
                             "domain": "googleapis.com", "metadata": ["service": "youtube.googleapis.com"]]],
            ]], headers: [("Retry-After", String(retryAfter))])
        }
    }

    static func handle(_ req: LoopbackRequest, _ state: Locked<State>) -> LoopbackReply {
        state.update { $0.log.append("\(req.method) \(req.path) \(req.header("Content-Range") ?? "")") }
        if req.path == "/token" { return token(req, state) }
        // Everything else needs a valid bearer token.
        let auth = req.header("Authorization") ?? ""
        guard auth.hasPrefix("Bearer "), state.value.validAccessTokens.contains(String(auth.dropFirst(7))), !state.value.refuseAccessTokens else {
            return youtubeError(401, "Request had invalid authentication credentials. Expected OAuth 2 access token.", reason: "authError")
        }
        let limited = state.update { s -> Bool in
            guard s.rateLimited > 0 else {
                if !s.limitedAt.isEmpty, s.firstAfterLimitsAt == nil { s.firstAfterLimitsAt = Date() }
                return false
            }
            s.rateLimited -= 1
            s.limitedAt.append(Date())
            return true
        }
        if limited { return rateLimit(state.value.rateLimitStyle, retryAfter: state.value.retryAfterSeconds) }
        if let step = Self.step(of: req), let fault = Self.injection(at: step, state) {
            state.update { $0.injected.append("\(step.rawValue) \(fault)") }
            return answer(fault, to: req, state)
        }
        switch (req.method, req.path) {
        case ("POST", "/upload/youtube/v3/videos"):
            guard req.query["uploadType"] == "resumable" else { return youtubeError(400, "Unsupported upload type", reason: "badRequest") }
            guard let part = req.query["part"], !part.isEmpty else {
                return youtubeError(400, "Required parameter: part", reason: "required")
            }
            if state.value.quotaExceeded {
                return youtubeError(403, "The request cannot be completed because you have exceeded your <a href=\"/youtube/v3/getting-started#quota\">quota</a>.",
                                    reason: "quotaExceeded", domain: "youtube.quota")
            }
            if state.value.uploadLimitExceeded {
                return youtubeError(400, "The user has exceeded the number of videos they may upload.",
                                    reason: "uploadLimitExceeded", domain: "youtube.video")
            }
            guard let total = Int(req.header("X-Upload-Content-Length") ?? "") else {
                return youtubeError(400, "Missing X-Upload-Content-Length", reason: "badRequest")
            }
            let id = state.update { s -> String in
                s.opened += 1
                let id = "upload-\(s.opened)"
                s.sessions[id] = Session(metadataJSON: req.body, total: total)
                return id
            }
            return .respond(status: 200, headers: [("Location", "\(req.header("Host").map { "http://\($0)" } ?? "")/upload/youtube/v3/videos?uploadType=resumable&upload_id=\(id)")])
        case ("PUT", "/upload/youtube/v3/videos"):
            guard let id = req.query["upload_id"], var s = state.value.sessions[id] else {
                let code = req.query["upload_id"].flatMap { state.value.expired[$0] } ?? 404
                return youtubeError(code, "The upload session has expired or does not exist.", reason: "notFound")
            }
            let range = req.header("Content-Range") ?? ""
            if range.hasPrefix("bytes */") {
                return status(id, s, state)
            }
            // bytes a-b/total
            let spec = range.dropFirst("bytes ".count).split(separator: "/")[0].split(separator: "-")
            guard spec.count == 2, let a = Int(spec[0]), let b = Int(spec[1]), b - a + 1 == req.body.count, b < s.total else {
                return youtubeError(400, "Failed to parse Content-Range header.", reason: "badRequest")
            }
            // Every chunk but the last is a multiple of 256 KiB.
            if b + 1 < s.total, req.body.count % (256 << 10) != 0 {
                return youtubeError(400, "Invalid request. The number of bytes uploaded is required to be a multiple of 262144, "
                                    + "except for the final request. The received request contained \(req.body.count) bytes.", reason: "badRequest")
            }
            // A gap is refused; a replay of bytes the session has is taken from the session's end on.
            guard a <= s.received.count else {
                state.update { $0.refusedGaps += 1 }
                return youtubeError(400, "Invalid request. According to the Content-Range header, the upload offset is \(a) byte(s), "
                                    + "which exceeds already uploaded size of \(s.received.count) byte(s).", reason: "badRequest")
            }
            let fresh = req.body.dropFirst(s.received.count - a)
            if state.value.stalledChunks > 0 {
                state.update { $0.stalledChunks -= 1 }
                return status(id, s, state)
            }
            if state.value.dropChunks > 0 {
                s.received.append(fresh.prefix(fresh.count / 2))
                state.update { $0.dropChunks -= 1; $0.sessions[id] = s }
                return .drop
            }
            s.received.append(fresh)
            state.update { $0.sessions[id] = s }
            if s.received.count == s.total, state.value.dropAfterCompleting > 0 {
                state.update { $0.dropAfterCompleting -= 1 }
                _ = status(id, s, state)  // the video is made; its answer is lost
                return .drop
            }
            return status(id, s, state)
        case ("GET", "/youtube/v3/videos"):
            let ids = (req.query["id"] ?? "").split(separator: ",").map(String.init)
            let items = ids.filter { state.value.videos[$0] != nil }.map { ["kind": "youtube#video", "id": $0, "status": ["uploadStatus": "processed"]] as [String: Any] }
            return .json(200, ["kind": "youtube#videoListResponse", "items": items, "pageInfo": ["totalResults": items.count, "resultsPerPage": 5]])
        case ("GET", "/youtube/v3/channels"):
            guard req.query["mine"] == "true", req.query["part"]?.contains("contentDetails") == true else {
                return youtubeError(400, "No filter selected. Expected one of: forHandle, forUsername, id, managedByMe, mine, mySubscribers", reason: "missingRequiredParameter")
            }
            return .json(200, ["kind": "youtube#channelListResponse", "items": [[
                "kind": "youtube#channel", "id": "UCfake", "contentDetails": ["relatedPlaylists": ["likes": "", "uploads": "UUfake"]],
            ] as [String: Any]]])
        case ("GET", "/youtube/v3/playlistItems"):
            guard req.query["playlistId"] == "UUfake" else {
                return youtubeError(404, "The playlist identified with the request's playlistId parameter cannot be found.", reason: "playlistNotFound")
            }
            let limit = Int(req.query["maxResults"] ?? "5") ?? 5
            let f = ISO8601DateFormatter()
            let items = state.value.uploads.reversed().prefix(limit).map { u in
                ["kind": "youtube#playlistItem", "id": "PLI\(u.videoID)",
                 "snippet": ["publishedAt": f.string(from: u.at), "channelId": "UCfake", "title": u.title, "playlistId": "UUfake",
                             "resourceId": ["kind": "youtube#video", "videoId": u.videoID]] as [String: Any],
                 "contentDetails": ["videoId": u.videoID, "videoPublishedAt": f.string(from: u.at)]] as [String: Any]
            }
            return .json(200, ["kind": "youtube#playlistItemListResponse", "items": Array(items), "pageInfo": ["totalResults": items.count, "resultsPerPage": limit]])
        case ("POST", "/upload/youtube/v3/thumbnails/set"):
            guard let vid = req.query["videoId"], state.value.videos[vid] != nil else {
                return youtubeError(404, "The video that you are trying to update cannot be found.", reason: "videoNotFound", domain: "youtube.thumbnail")
            }
            if state.value.thumbnailsForbidden {
                return youtubeError(403, "The authenticated user doesn't have permissions to upload and set custom video thumbnails.",
                                    reason: "forbidden", domain: "youtube.thumbnail")
            }
            state.update { $0.thumbnails[vid] = req.body }
            return .json(200, ["kind": "youtube#thumbnailSetResponse", "items": [["default": ["url": "https://i.ytimg.com/vi/\(vid)/default.jpg", "width": 120, "height": 90]]]])
        case ("POST", "/upload/youtube/v3/captions"):
            return insertCaptions(req, state)
        case ("GET", "/youtube/v3/captions"):
            guard let part = req.query["part"], !part.isEmpty else { return youtubeError(400, "Required parameter: part", reason: "required") }
            guard let vid = req.query["videoId"], state.value.videos[vid] != nil else {
                return youtubeError(404, "The video identified by the videoId parameter could not be found.", reason: "videoNotFound", domain: "youtube.caption")
            }
            let items = (state.value.captions[vid] ?? []).map { captionResource($0, videoID: vid) }
            return .json(200, ["kind": "youtube#captionListResponse", "etag": "etag-list", "items": items])
        default:
            return youtubeError(404, "Not Found", reason: "notFound")
        }
    }

    static func captionResource(_ c: Caption, videoID: String) -> [String: Any] {
        ["kind": "youtube#caption", "etag": "etag-\(c.id)", "id": c.id, "snippet": [
            "videoId": videoID, "lastUpdated": "2026-12-01T12:00:00.000Z", "trackKind": "standard", "language": c.language,
            "name": c.name, "audioTrackType": "unknown", "isCC": false, "isLarge": false, "isEasyReader": false,
            "isDraft": c.isDraft, "isAutoSynced": false, "status": "serving",
        ] as [String: Any]]
    }

    /// `captions.insert` as the upload servers take it: `uploadType=multipart` and `part`, a
    /// `multipart/related` body of the JSON snippet and then the caption file.
    static func insertCaptions(_ req: LoopbackRequest, _ state: Locked<State>) -> LoopbackReply {
        guard req.query["uploadType"] == "multipart" else { return youtubeError(400, "Unsupported upload type", reason: "badRequest") }
        guard let part = req.query["part"], !part.isEmpty else { return youtubeError(400, "Required parameter: part", reason: "required") }
        let type = req.header("Content-Type") ?? ""
        guard type.hasPrefix("multipart/related"), let b = type.range(of: "boundary=") else {
            return youtubeError(400, "Media type '\(type)' is not supported. Valid media types: [multipart/related]", reason: "badContent")
        }
        let boundary = Data(("--" + type[b.upperBound...].trimmingCharacters(in: CharacterSet(charactersIn: "\" "))).utf8)
        // The parts between the boundaries, each headers, a blank line, then its bytes.
        var parts: [(headers: String, body: Data)] = []
        var rest = req.body[...]
        while let start = rest.range(of: boundary) {
            rest = rest[start.upperBound...]
            if rest.starts(with: Data("--".utf8)) { break }
            guard let headEnd = rest.range(of: Data("\r\n\r\n".utf8)) else { break }
            let headers = String(decoding: rest[rest.startIndex..<headEnd.lowerBound], as: UTF8.self)
            let next = rest.range(of: boundary, in: headEnd.upperBound..<rest.endIndex)?.lowerBound ?? rest.endIndex
            var body = rest[headEnd.upperBound..<next]
            if body.suffix(2) == Data("\r\n".utf8) { body = body.dropLast(2) }
            parts.append((headers, Data(body)))
            rest = rest[next...]
        }
        guard parts.count == 2, parts[0].headers.lowercased().contains("application/json"),
              let meta = try? JSONSerialization.jsonObject(with: parts[0].body) as? [String: Any],
              let snippet = meta["snippet"] as? [String: Any] else {
            return youtubeError(400, "The request metadata is invalid.", reason: "invalidMetadata", domain: "youtube.caption")
        }
        guard let vid = snippet["videoId"] as? String, state.value.videos[vid] != nil else {
            return youtubeError(404, "The video identified by the videoId parameter could not be found.", reason: "videoNotFound", domain: "youtube.caption")
        }
        guard let language = snippet["language"] as? String, !language.isEmpty else {
            return youtubeError(400, "The request metadata does not specify the caption track's language.", reason: "invalidMetadata", domain: "youtube.caption")
        }
        let name = snippet["name"] as? String ?? ""
        guard name.count <= 150 else {
            return youtubeError(400, "The caption track name specified in the request is too long.", reason: "nameTooLong", domain: "youtube.caption")
        }
        guard !parts[1].body.isEmpty else {
            return youtubeError(400, "The request does not include the caption track content.", reason: "contentRequired", domain: "youtube.caption")
        }
        // captions.insert needs the youtube.force-ssl scope (the grant's scopes are the token's).
        guard state.value.grantedScope.split(separator: " ").contains("https://www.googleapis.com/auth/youtube.force-ssl") else {
            return youtubeError(403, "Request had insufficient authentication scopes.", reason: "insufficientPermissions")
        }
        if state.value.captionsForbidden {
            return youtubeError(403, "The permissions associated with the request are not sufficient to upload the caption track.",
                                reason: "forbidden", domain: "youtube.caption")
        }
        let caption = state.update { s -> Caption in
            let c = Caption(id: "cap-\(s.captions.values.reduce(0) { $0 + $1.count } + 1)", name: name, language: language,
                            isDraft: snippet["isDraft"] as? Bool ?? false, body: parts[1].body)
            s.captions[vid, default: []].append(c)
            return c
        }
        let drop = state.update { s -> Bool in
            guard s.dropCaptionsAfterStoring > 0 else { return false }
            s.dropCaptionsAfterStoring -= 1
            return true
        }
        return drop ? .drop : .json(200, captionResource(caption, videoID: vid))
    }

    /// The upload step a request is, if it is one.
    static func step(of req: LoopbackRequest) -> Step? {
        switch (req.method, req.path) {
        case ("POST", "/upload/youtube/v3/videos"): return .start
        case ("PUT", "/upload/youtube/v3/videos"): return (req.header("Content-Range") ?? "").hasPrefix("bytes */") ? .status : .chunk
        case ("POST", "/upload/youtube/v3/thumbnails/set"): return .thumbnail
        default: return nil
        }
    }

    /// The fault to answer this request of `step` with, counting it off its injection.
    static func injection(at step: Step, _ state: Locked<State>) -> Fault? {
        state.update { s -> Fault? in
            guard let i = s.injections.firstIndex(where: { $0.step == step && ($0.skip > 0 || $0.times > 0) }) else { return nil }
            if s.injections[i].skip > 0 {
                s.injections[i].skip -= 1
                return nil
            }
            s.injections[i].times -= 1
            return s.injections[i].fault
        }
    }

    static func answer(_ fault: Fault, to req: LoopbackRequest, _ state: Locked<State>) -> LoopbackReply {
        switch fault {
        case .serverError(let code):
            return youtubeError(code, code == 503 ? "The service is currently unavailable." : "Backend Error", reason: "backendError")
        case .rateLimited:
            return rateLimit(.dataAPI)
        case .quotaExceeded:
            return youtubeError(403, "The request cannot be completed because you have exceeded your <a href=\"/youtube/v3/getting-started#quota\">quota</a>.",
                                reason: "quotaExceeded", domain: "youtube.quota")
        case .uploadLimitExceeded:
            return youtubeError(400, "The user has exceeded the number of videos they may upload.", reason: "uploadLimitExceeded", domain: "youtube.video")
        case .expired(let code):
            if let id = req.query["upload_id"] {
                state.update { $0.sessions.removeValue(forKey: id); $0.expired[id] = code }
            }
            return youtubeError(code, "The upload session has expired or does not exist.", reason: "notFound")
        case .drop:
            return .drop
        case .unauthorized:
            state.update { $0.validAccessTokens.removeAll() }
            return youtubeError(401, "Request had invalid authentication credentials. Expected OAuth 2 access token.", reason: "authError")
        }
    }

    static func status(_ id: String, _ s: Session, _ state: Locked<State>) -> LoopbackReply {
        if s.received.count == s.total {
            var session = s
            let vid = session.videoID ?? "vid\(state.value.videos.count + 1)"
            if session.videoID == nil {
                session.videoID = vid
                let title = (session.metadata["snippet"] as? [String: Any])?["title"] as? String ?? ""
                state.update { $0.sessions[id] = session; $0.videos[vid] = session.received; $0.uploads.append((vid, title, Date())) }
            }
            return .json(200, ["kind": "youtube#video", "id": vid, "snippet": session.metadata["snippet"] ?? [:],
                               "status": ["uploadStatus": "uploaded", "privacyStatus": (session.metadata["status"] as? [String: Any])?["privacyStatus"] ?? "private"]])
        }
        let headers: [(String, String)] = s.received.isEmpty ? [] : [("Range", "bytes=0-\(s.received.count - 1)")]
        return .respond(status: 308, headers: headers)
    }

    static func token(_ req: LoopbackRequest, _ state: Locked<State>) -> LoopbackReply {
        var form: [String: String] = [:]
        for pair in String(decoding: req.body, as: UTF8.self).split(separator: "&") {
            let kv = pair.split(separator: "=", maxSplits: 1).map { String($0).removingPercentEncoding ?? String($0) }
            form[kv[0]] = kv.count > 1 ? kv[1] : ""
        }
        guard form["client_id"] == "client-id", form["client_secret"] == "client-secret" else {
            return .json(401, ["error": "invalid_client", "error_description": "The OAuth client was not found."])
        }
        func issue(refresh: Bool) -> LoopbackReply {
            let token = state.update { s -> String in
                s.issued += 1
                let t = "access-\(s.issued)"
                s.validAccessTokens.insert(t)
                return t
            }
            var body: [String: Any] = ["access_token": token, "expires_in": 3599, "token_type": "Bearer",
                                       "scope": state.value.grantedScope]
            if refresh { body["refresh_token"] = state.value.refreshToken }
            return .json(200, body)
        }
        switch form["grant_type"] {
        case "refresh_token":
            let failing = state.update { s -> Bool in
                guard s.tokenServerErrors > 0 else { return false }
                s.tokenServerErrors -= 1
                return true
            }
            if failing { return .json(503, ["error": "temporarily_unavailable", "error_description": "The service is temporarily unavailable."]) }
            guard !state.value.revoked, form["refresh_token"] == state.value.refreshToken else {
                return .json(400, ["error": "invalid_grant", "error_description": "Token has been expired or revoked."])
            }
            return issue(refresh: false)
        case "authorization_code":
            guard let code = form["code"], let verifier = state.value.authCodes[code], verifier == form["code_verifier"] ?? "" || verifier == "*" else {
                return .json(400, ["error": "invalid_grant", "error_description": "Malformed auth code."])
            }
            return issue(refresh: !state.value.codeRepliesWithoutRefresh)
        default:
            return .json(400, ["error": "unsupported_grant_type", "error_description": "Invalid grant_type: \(form["grant_type"] ?? "")"])
        }
    }

    /// Lets every upload session expire: YouTube answers 404 for it from now on.
    public func expireSessions() {
        state.update { s in
            for id in s.sessions.keys { s.expired[id] = 404 }
            s.sessions.removeAll()
        }
    }

    /// Revokes every access token handed out so far (as if they expired).
    public func expireAccessTokens() { state.update { $0.validAccessTokens.removeAll() } }

    public func shutdown() { server.shutdown() }
}
