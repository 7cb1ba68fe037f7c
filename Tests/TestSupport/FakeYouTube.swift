import Foundation

/// A loopback YouTube: Google's OAuth token endpoint and the Data API v3 endpoints ytauto uses
/// (`videos.insert` as a resumable upload, `videos.list`, `thumbnails.set`), with the real status
/// codes and error bodies. Tests switch on failures: a quota error, an expired token, a dropped chunk.
///
/// Error bodies follow Google's documented format, `{"error": {"code", "message", "errors":
/// [{"domain", "reason", "message"}], "status"}}`, with the status and reason each error has in the
/// Data API's error reference (`uploadLimitExceeded` is a 400, `quotaExceeded` a 403); the newer
/// `google.rpc` shape (`status: RESOURCE_EXHAUSTED`, a `details` ErrorInfo, no `errors`) is used for
/// a 429. An expired upload session answers 404, as the resumable-upload guide says.
public final class FakeYouTube: @unchecked Sendable {
    // `@unchecked` is safe: all state is in `Shared` boxes.
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

    public struct State: Sendable {
        public var refreshToken = "refresh-1"
        public var validAccessTokens: Set<String> = []
        public var issued = 0
        public var sessions: [String: Session] = [:]
        public var videos: [String: Data] = [:]
        public var thumbnails: [String: Data] = [:]
        public var log: [String] = []
        /// Answer the next videos.insert with 403 quotaExceeded.
        public var quotaExceeded = false
        /// Answer videos.insert with 400 uploadLimitExceeded (the channel's own upload limit).
        public var uploadLimitExceeded = false
        /// Answer this many of the next API requests (not the token endpoint) with a rate limit.
        public var rateLimited = 0
        public var rateLimitStyle = RateLimitStyle.dataAPI
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
        /// Revoke the refresh token: the token endpoint answers invalid_grant.
        public var revoked = false
        public var authCodes: [String: String] = [:]
    }

    public let state = Shared(State())
    public private(set) var server: LoopbackServer!
    public var base: String { server.baseURL }

    public init() throws {
        server = try LoopbackServer { [state] req in Self.handle(req, state) }
    }

    static func youtubeError(_ code: Int, _ message: String, reason: String, domain: String = "global") -> LoopbackReply {
        let status = [400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 404: "NOT_FOUND", 429: "RESOURCE_EXHAUSTED"][code] ?? "PERMISSION_DENIED"
        return .json(code, ["error": ["code": code, "message": message, "errors": [["message": message, "domain": domain, "reason": reason]],
                                      "status": status]])
    }

    static func rateLimit(_ style: RateLimitStyle) -> LoopbackReply {
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
            ]], headers: [("Retry-After", "1")])
        }
    }

    static func handle(_ req: LoopbackRequest, _ state: Shared<State>) -> LoopbackReply {
        state.update { $0.log.append("\(req.method) \(req.path) \(req.header("Content-Range") ?? "")") }
        if req.path == "/token" { return token(req, state) }
        // Everything else needs a valid bearer token.
        let auth = req.header("Authorization") ?? ""
        guard auth.hasPrefix("Bearer "), state.value.validAccessTokens.contains(String(auth.dropFirst(7))), !state.value.refuseAccessTokens else {
            return youtubeError(401, "Request had invalid authentication credentials. Expected OAuth 2 access token.", reason: "authError")
        }
        let limited = state.update { s -> Bool in
            guard s.rateLimited > 0 else { return false }
            s.rateLimited -= 1
            return true
        }
        if limited { return rateLimit(state.value.rateLimitStyle) }
        switch (req.method, req.path) {
        case ("POST", "/upload/youtube/v3/videos"):
            guard req.query["uploadType"] == "resumable" else { return youtubeError(400, "Unsupported upload type", reason: "badRequest") }
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
                return youtubeError(404, "Upload session not found", reason: "notFound")
            }
            let range = req.header("Content-Range") ?? ""
            if range.hasPrefix("bytes */") {
                return status(id, s, state)
            }
            // bytes a-b/total
            let spec = range.dropFirst("bytes ".count).split(separator: "/")[0].split(separator: "-")
            guard spec.count == 2, let a = Int(spec[0]), a == s.received.count else {
                return status(id, s, state)
            }
            if state.value.stalledChunks > 0 {
                state.update { $0.stalledChunks -= 1 }
                return status(id, s, state)
            }
            if state.value.dropChunks > 0 {
                s.received.append(req.body.prefix(req.body.count / 2))
                state.update { $0.dropChunks -= 1; $0.sessions[id] = s }
                return .drop
            }
            s.received.append(req.body)
            state.update { $0.sessions[id] = s }
            return status(id, s, state)
        case ("GET", "/youtube/v3/videos"):
            let ids = (req.query["id"] ?? "").split(separator: ",").map(String.init)
            let items = ids.filter { state.value.videos[$0] != nil }.map { ["kind": "youtube#video", "id": $0, "status": ["uploadStatus": "processed"]] as [String: Any] }
            return .json(200, ["kind": "youtube#videoListResponse", "items": items, "pageInfo": ["totalResults": items.count, "resultsPerPage": 5]])
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
        default:
            return youtubeError(404, "Not Found", reason: "notFound")
        }
    }

    static func status(_ id: String, _ s: Session, _ state: Shared<State>) -> LoopbackReply {
        if s.received.count == s.total {
            var session = s
            let vid = session.videoID ?? "vid\(state.value.videos.count + 1)"
            if session.videoID == nil {
                session.videoID = vid
                state.update { $0.sessions[id] = session; $0.videos[vid] = session.received }
            }
            return .json(200, ["kind": "youtube#video", "id": vid, "snippet": session.metadata["snippet"] ?? [:],
                               "status": ["uploadStatus": "uploaded", "privacyStatus": (session.metadata["status"] as? [String: Any])?["privacyStatus"] ?? "private"]])
        }
        let headers: [(String, String)] = s.received.isEmpty ? [] : [("Range", "bytes=0-\(s.received.count - 1)")]
        return .respond(status: 308, headers: headers)
    }

    static func token(_ req: LoopbackRequest, _ state: Shared<State>) -> LoopbackReply {
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
                                       "scope": "https://www.googleapis.com/auth/youtube.upload https://www.googleapis.com/auth/youtube.readonly"]
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
            return issue(refresh: true)
        default:
            return .json(400, ["error": "unsupported_grant_type", "error_description": "Invalid grant_type: \(form["grant_type"] ?? "")"])
        }
    }

    /// Lets every upload session expire: YouTube answers 404 for it from now on.
    public func expireSessions() { state.update { $0.sessions.removeAll() } }

    /// Revokes every access token handed out so far (as if they expired).
    public func expireAccessTokens() { state.update { $0.validAccessTokens.removeAll() } }

    public func shutdown() { server.shutdown() }
}
