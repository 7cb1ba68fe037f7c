import Foundation
import YTAutoCore
import YTAutoSupport

/// Pexels' search API (https://www.pexels.com/api/documentation/), for ``StockFootageSource``.
///
/// - `GET {baseURL}/v1/videos/search` and `GET {baseURL}/v1/search` (photos) with `query`,
///   `orientation` (`landscape` or `portrait`, the format's), `size=medium` (Full HD videos,
///   12 MP photos), `per_page=15` and `locale` (``locale(for:)``); the key is the whole
///   `Authorization` header (no `Bearer`).
/// - A video's rendition is the smallest `video/mp4` file that covers the format (``StockHit/rendition(_:covering:_:)``;
///   HLS entries, whose sizes are null, are skipped); a photo is downloaded as `src.original`.
/// - Credit: "Video by NAME on Pexels" with the video's page, as Pexels' guidelines ask.
/// - Errors: 401/403 (a wrong key) is `image.unauthorized`, not retried; 429 (the 200 requests
///   an hour or 20,000 a month are spent; Pexels sends no rate headers with it) is retried at
///   `Retry-After`, else at the monthly reset the last 2xx announced when it said none remain,
///   else in 10 minutes; 5xx is retried. A 2xx with `X-Ratelimit-Remaining: 0` stops further
///   searches of the stage until `X-Ratelimit-Reset` (a Unix time).
/// - `usage` gets `("pexels", "requests", 1)` for each search answered.
public struct PexelsSearch: StockSearch {
    public let provider = "Pexels"
    public static let licence = "Pexels License (https://www.pexels.com/license/)"
    let baseURL: String
    let requests: StockRequests
    var clock: @Sendable () -> Date { requests.clock }

    public init(baseURL: String = "https://api.pexels.com", apiKey: String, timeout: Duration = .seconds(60),
                usage: (@Sendable (_ provider: String, _ unit: String, _ amount: Int) async -> Void)? = nil,
                clock: @escaping @Sendable () -> Date = Date.init) {
        self.baseURL = ProviderSupport.trimmed(baseURL)
        self.requests = StockRequests(provider: "Pexels", key: apiKey, http: HTTP(family: .image, timeout: timeout), usage: usage, clock: clock)
    }

    /// The search locales Pexels documents, in its order (it documents no default: a search for a
    /// language it lacks is sent without `locale`).
    static let locales = ["en-US", "pt-BR", "es-ES", "ca-ES", "de-DE", "it-IT", "fr-FR", "sv-SE", "id-ID", "pl-PL", "ja-JP", "zh-TW",
                          "zh-CN", "ko-KR", "th-TH", "nl-NL", "hu-HU", "vi-VN", "cs-CZ", "da-DK", "fi-FI", "uk-UA", "el-GR", "ro-RO",
                          "nb-NO", "sk-SK", "tr-TR", "ru-RU"]

    public func askedLanguage(_ language: String) -> String? { Self.locale(for: language) }

    /// The Pexels locale for a BCP-47 tag: the tag itself when Pexels has it (`pt-BR`), else
    /// Pexels' locale of the same language (`es-MX` searches as `es-ES`); nil when it has none.
    static func locale(for tag: String) -> String? {
        if let exact = locales.first(where: { $0.caseInsensitiveCompare(tag) == .orderedSame }) { return exact }
        return locales.first { $0.hasPrefix(Language.primarySubtag(tag) + "-") }
    }

    public func search(_ terms: String, kind: FootageAsset.Kind, width: Int, height: Int, language: String) async throws -> [StockHit] {
        var q = URLComponents()
        q.queryItems = [
            URLQueryItem(name: "query", value: terms), URLQueryItem(name: "orientation", value: height > width ? "portrait" : "landscape"),
            URLQueryItem(name: "size", value: "medium"), URLQueryItem(name: "per_page", value: "15"),
        ] + (Self.locale(for: language).map { [URLQueryItem(name: "locale", value: $0)] } ?? [])
        let path = kind == .clip ? "/v1/videos/search" : "/v1/search"
        let reply = try await requests.get(baseURL + path + "?" + (q.percentEncodedQuery ?? ""), headers: [("Authorization", requests.key)],
                                           reset: { r in r.header("X-Ratelimit-Reset").flatMap { Double($0) }.map(Date.init(timeIntervalSince1970:)) },
                                           error: error)
        let json = try requests.json(reply)
        if kind == .clip {
            guard let videos = json["videos"] as? [[String: Any]] else { throw missing("videos", reply) }
            return videos.compactMap { video(from: $0, width: width, height: height) }
        }
        guard let photos = json["photos"] as? [[String: Any]] else { throw missing("photos", reply) }
        return photos.compactMap(photo)
    }

    func missing(_ field: String, _ reply: HTTP.Reply) -> ProviderError {
        ProviderError(family: .image, reason: "bad_response", message: "Pexels: HTTP \(reply.status) without `\(field)`", isRetryable: true)
    }

    /// A video of the search, or nil when it lacks what ytauto needs (an id, a page, an mp4 file).
    func video(from v: [String: Any], width: Int, height: Int) -> StockHit? {
        guard let id = v["id"] as? Int, let page = v["url"] as? String else { return nil }
        let files: [(width: Int, height: Int, item: String)] = (v["video_files"] as? [[String: Any]] ?? []).compactMap { f in
            guard f["file_type"] as? String == "video/mp4", f["quality"] as? String != "hls",
                  let w = f["width"] as? Int, let h = f["height"] as? Int, let link = f["link"] as? String else { return nil }
            return (w, h, link)
        }
        guard let file = StockHit.rendition(files, covering: width, height) else { return nil }
        let user = v["user"] as? [String: Any] ?? [:]
        let tags = (v["tags"] as? [String] ?? [])
        return StockHit(kind: .clip, width: file.width, height: file.height, seconds: (v["duration"] as? NSNumber)?.doubleValue, file: file.item,
                        credit: FootageCredit(provider: provider, id: String(id), author: user["name"] as? String ?? "Unknown",
                                              authorURL: user["url"] as? String, page: page, licence: Self.licence),
                        tags: tags)
    }

    func photo(_ p: [String: Any]) -> StockHit? {
        guard let id = p["id"] as? Int, let page = p["url"] as? String, let w = p["width"] as? Int, let h = p["height"] as? Int,
              let original = (p["src"] as? [String: Any])?["original"] as? String else { return nil }
        let alt = p["alt"] as? String ?? ""
        return StockHit(kind: .image, width: w, height: h, seconds: nil, file: original,
                        credit: FootageCredit(provider: provider, id: String(id), author: p["photographer"] as? String ?? "Unknown",
                                              authorURL: p["photographer_url"] as? String, page: page, licence: Self.licence),
                        tags: FootageWords.searchTerms(alt, limit: 8))
    }

    func error(_ reply: HTTP.Reply) -> ProviderError {
        let text = requests.redact(reply.errorText)
        switch reply.status {
        case 401, 403:
            return ProviderError(family: .image, reason: "unauthorized",
                                 message: "Pexels refused the API key (HTTP \(reply.status)): \(text); check PEXELS_API_KEY", isRetryable: false)
        case 429:
            let at = reply.retryAfter(now: clock()) ?? requests.exhausted.value ?? clock().addingTimeInterval(600)
            return ProviderError(family: .image, reason: "rate_limited",
                                 message: "Pexels: HTTP 429, the key's requests (200 an hour, 20,000 a month by default) are spent; retried at \(Timestamp.string(at))",
                                 isRetryable: true, retryAt: at)
        default:
            return requests.unexpected(reply)
        }
    }
}
