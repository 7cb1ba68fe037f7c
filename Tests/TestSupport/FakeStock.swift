import Foundation
import YTAutoSupport

/// A loopback Pexels and Pixabay, as their API documentation describes them
/// (https://www.pexels.com/api/documentation/, https://pixabay.com/api/docs/): the same paths,
/// parameters, JSON fields, rate headers and error bodies, over a small catalogue. A search
/// answers the items whose tags hold any of the query's words, in catalogue order; the files
/// are served from the same server under `/files/`. Tags are in a language (English unless the
/// item says otherwise), and a search reads its words in the language it asks for (Pexels'
/// `locale`, Pixabay's `lang`; English, both providers' default, when it asks for none).
///
/// - Pexels: `GET /v1/videos/search` (and the older `/videos/search`), `GET /v1/search`; the key
///   is the whole `Authorization` header. A 2xx carries `X-Ratelimit-Limit`, `-Remaining` and
///   `-Reset` (a Unix time); a 429 carries none (as documented). Pexels does not document its
///   error bodies: this fake answers `{"error": "..."}`, the shape its official JS client reads.
/// - Pixabay: `GET /api/videos/`, `GET /api/` with `key`, `q`; errors in plain text
///   (`[ERROR 400] Invalid or missing API key (KEY).`, `API rate limit exceeded`); a 2xx
///   carries `X-RateLimit-Limit`, `-Remaining` and `-Reset` (seconds); a video without a
///   `large` rendition has an empty URL and zero sizes there, as Pixabay's docs say.
public final class FakeStock: @unchecked Sendable {
    public struct Item: Sendable {
        public var id: Int
        public var video: Bool
        public var tags: [String]
        public var author: String
        /// The renditions: (width, height, file name under /files/).
        public var files: [(width: Int, height: Int, name: String)]
        public var seconds: Int
        /// The language of its tags (a primary subtag: `en`, `es`).
        public var language: String
        public init(id: Int, video: Bool, tags: [String], author: String, files: [(width: Int, height: Int, name: String)], seconds: Int = 10,
                    language: String = "en") {
            self.id = id
            self.video = video
            self.tags = tags
            self.author = author
            self.files = files
            self.seconds = seconds
            self.language = language
        }
    }

    public struct State: Sendable {
        public var catalogue: [Item] = []
        public var files: [String: Data] = [:]
        public var requests: [LoopbackRequest] = []
        /// What the next 2xx says remains of the allowance (decremented per search).
        public var remaining = 19_684
        /// Answer every search with 429.
        public var throttled = false
        /// Answer every search with this status and body instead.
        public var failure: (status: Int, body: String)?
    }

    public let key: String
    public let state = Locked(State())
    public private(set) var server: LoopbackServer!
    public var baseURL: String { server.baseURL }
    public static let resetEpoch = 1_990_529_646

    public init(key: String) throws {
        self.key = key
        server = try LoopbackServer { [unowned self] req in self.answer(req) }
    }

    public var searches: [LoopbackRequest] { state.value.requests.filter { !$0.path.hasPrefix("/files/") } }

    func answer(_ req: LoopbackRequest) -> LoopbackReply {
        state.update { $0.requests.append(req) }
        if req.path.hasPrefix("/files/") {
            guard let data = state.value.files[String(req.path.dropFirst("/files/".count))] else {
                return .respond(status: 404, headers: [("Content-Type", "text/plain")], body: Data("Not Found".utf8))
            }
            return .respond(status: 200, headers: [("Content-Type", "application/octet-stream")], body: data)
        }
        switch req.path {
        case "/v1/videos/search", "/videos/search": return pexels(req, videos: true)
        case "/v1/search": return pexels(req, videos: false)
        case "/api/videos/": return pixabay(req, videos: true)
        case "/api/": return pixabay(req, videos: false)
        default: return .json(404, ["error": "Not Found"])
        }
    }

    func matches(_ query: String, videos: Bool, language: String) -> [Item] {
        let words = Set(query.lowercased().split(separator: " ").map(String.init))
        return state.value.catalogue.filter { $0.video == videos && $0.language == language && !words.isDisjoint(with: $0.tags) }
    }

    func file(_ name: String) -> String { baseURL + "/files/" + name }

    func pexels(_ req: LoopbackRequest, videos: Bool) -> LoopbackReply {
        guard req.header("Authorization") == key else { return .json(401, ["error": "Unauthorized"]) }
        let s = state.value
        if s.throttled { return .json(429, ["error": "Too Many Requests"]) }
        if let f = s.failure { return .respond(status: f.status, headers: [("Content-Type", "text/html")], body: Data(f.body.utf8)) }
        guard let query = req.query["query"], !query.isEmpty else { return .json(400, ["error": "query is required"]) }
        let remaining = state.update { st -> Int in st.remaining -= 1; return st.remaining }
        let headers = [("X-Ratelimit-Limit", "20000"), ("X-Ratelimit-Remaining", String(max(0, remaining))),
                       ("X-Ratelimit-Reset", String(Self.resetEpoch))]
        let language = (req.query["locale"] ?? "en-US").split(separator: "-").first.map(String.init) ?? "en"
        let found = matches(query, videos: videos, language: language)
        if videos {
            return .json(200, [
                "page": 1, "per_page": 15, "total_results": found.count, "url": "https://www.pexels.com/videos/",
                "videos": found.map { v -> [String: Any] in
                    var files: [[String: Any]] = v.files.enumerated().map { i, f in
                        ["id": v.id * 10 + i, "quality": f.height >= 720 || f.width >= 720 ? "hd" : "sd", "file_type": "video/mp4",
                         "width": f.width, "height": f.height, "fps": 25, "link": file(f.name)]
                    }
                    files.append(["id": v.id * 10 + 9, "quality": "hls", "file_type": "video/mp4", "width": NSNull(), "height": NSNull(),
                                  "link": baseURL + "/files/\(v.id).m3u8"])
                    let top = v.files.max { $0.width * $0.height < $1.width * $1.height }!
                    return [
                        "id": v.id, "width": top.width, "height": top.height, "url": "https://www.pexels.com/video/\(v.tags[0])-\(v.id)/",
                        "image": "https://images.pexels.com/videos/\(v.id)/free-video-\(v.id).jpg", "duration": v.seconds,
                        "full_res": NSNull(), "tags": [] as [String],
                        "user": ["id": v.id + 500, "name": v.author, "url": "https://www.pexels.com/@\(v.author.lowercased())"],
                        "video_files": files,
                        "video_pictures": [["id": v.id * 100, "picture": "https://static-videos.pexels.com/videos/\(v.id)/pictures/preview-0.jpg", "nr": 0]],
                    ]
                },
            ], headers: headers)
        }
        return .json(200, [
            "page": 1, "per_page": 15, "total_results": found.count,
            "photos": found.map { p -> [String: Any] in
                let f = p.files[0]
                return [
                    "id": p.id, "width": f.width, "height": f.height, "url": "https://www.pexels.com/photo/\(p.tags[0])-\(p.id)/",
                    "photographer": p.author, "photographer_url": "https://www.pexels.com/@\(p.author.lowercased())", "photographer_id": p.id + 900,
                    "avg_color": "#374824", "liked": false, "alt": p.tags.joined(separator: " "),
                    "src": ["original": file(f.name), "large2x": file(f.name) + "?auto=compress&cs=tinysrgb&dpr=2&h=650&w=940",
                            "large": file(f.name) + "?auto=compress&cs=tinysrgb&h=650&w=940", "medium": file(f.name) + "?h=350",
                            "small": file(f.name) + "?h=130", "portrait": file(f.name) + "?fit=crop&h=1200&w=800",
                            "landscape": file(f.name) + "?fit=crop&h=627&w=1200", "tiny": file(f.name) + "?dpr=1&fit=crop&h=200&w=280"],
                ]
            },
        ], headers: headers)
    }

    static func text(_ status: Int, _ body: String, headers: [(String, String)] = []) -> LoopbackReply {
        .respond(status: status, headers: [("Content-Type", "text/plain; charset=utf-8")] + headers, body: Data(body.utf8))
    }

    func pixabay(_ req: LoopbackRequest, videos: Bool) -> LoopbackReply {
        guard let given = req.query["key"], given == key else {
            return Self.text(400, "[ERROR 400] Invalid or missing API key (\(req.query["key"] ?? "")).")
        }
        let s = state.value
        if s.throttled { return Self.text(429, "API rate limit exceeded", headers: [("X-RateLimit-Limit", "100"), ("X-RateLimit-Remaining", "0"), ("X-RateLimit-Reset", "42")]) }
        if let f = s.failure { return Self.text(f.status, f.body) }
        if let per = req.query["per_page"].flatMap(Int.init), !(3...200).contains(per) {
            return Self.text(400, "[ERROR 400] \"per_page\" is out of valid range.")
        }
        let remaining = state.update { st -> Int in st.remaining -= 1; return st.remaining }
        let headers = [("X-RateLimit-Limit", "100"), ("X-RateLimit-Remaining", String(max(0, remaining))), ("X-RateLimit-Reset", "37")]
        let found = matches(req.query["q"] ?? "", videos: videos, language: req.query["lang"] ?? "en")
        func common(_ i: Item) -> [String: Any] {
            ["id": i.id, "tags": i.tags.joined(separator: ", "), "views": 4462, "downloads": 1464, "likes": 18, "comments": 0,
             "user_id": i.id + 1000, "user": i.author, "userImageURL": "https://cdn.pixabay.com/user/2015/10/16/09-28-45-303_250x250.png"]
        }
        let hits: [[String: Any]] = found.map { i in
            var h = common(i)
            if videos {
                h["pageURL"] = "https://pixabay.com/videos/id-\(i.id)/"
                h["type"] = "film"
                h["duration"] = i.seconds
                let sorted = i.files.sorted { $0.width * $0.height > $1.width * $1.height }
                var sizes: [String: Any] = ["large": ["url": "", "width": 0, "height": 0, "size": 0, "thumbnail": ""]]
                for (name, f) in zip(["medium", "small", "tiny"], sorted) {
                    sizes[name] = ["url": file(f.name), "width": f.width, "height": f.height, "size": s.files[f.name]?.count ?? 0,
                                   "thumbnail": file(f.name) + ".jpg"]
                }
                h["videos"] = sizes
            } else {
                let f = i.files[0]
                h["pageURL"] = "https://pixabay.com/photos/\(i.tags[0])-\(i.id)/"
                h["type"] = "photo"
                h["previewURL"] = file(f.name) + "?150"
                h["webformatURL"] = file(f.name) + "?640"
                h["largeImageURL"] = file(f.name)
                h["imageWidth"] = f.width
                h["imageHeight"] = f.height
                h["imageSize"] = s.files[f.name]?.count ?? 0
            }
            return h
        }
        return .json(200, ["total": hits.count, "totalHits": hits.count, "hits": hits], headers: headers)
    }
}
