import Foundation
import YTAutoCore

/// Pixabay's search API (https://pixabay.com/api/docs/), for ``StockFootageSource``.
///
/// - `GET {baseURL}/videos/` and `GET {baseURL}/` (photos, `image_type=photo`, `orientation`
///   `horizontal` or `vertical`) with `q` (at most 100 characters), `safesearch`, `per_page=20`
///   and `lang` (``lang(for:)``); the key is the `key` query parameter, so no URL is ever put in
///   a message.
/// - A video's rendition is the smallest of `large`, `medium`, `small`, `tiny` that covers the
///   format (an empty `large`, as Pixabay sends when it has none, is skipped); videos have no
///   orientation filter, so the choice prefers the format's. A photo is `fullHDURL` when the key
///   has full access, else `largeImageURL` (at most 1,280 px).
/// - Credit: "Video by USER on Pixabay" with the page; the licence is Pixabay's Content License.
/// - Errors come as plain text: a 400 about the key (`[ERROR 400] Invalid or missing API key`)
///   is `image.unauthorized`, other 400s `image.bad_request`, neither retried; 429 (`API rate
///   limit exceeded`, 100 requests a minute) is retried after `X-RateLimit-Reset` seconds, else
///   60 s; 5xx is retried. A 2xx with `X-RateLimit-Remaining: 0` stops further searches of the
///   stage for `X-RateLimit-Reset` seconds.
/// - `usage` gets `("pixabay", "requests", 1)` for each search answered.
public struct PixabaySearch: StockSearch {
    public let provider = "Pixabay"
    public static let licence = "Pixabay Content License (https://pixabay.com/service/license-summary/)"
    let baseURL: String
    let safeSearch: Bool
    let requests: StockRequests
    var clock: @Sendable () -> Date { requests.clock }

    public init(baseURL: String = "https://pixabay.com/api", apiKey: String, safeSearch: Bool = true, timeout: Duration = .seconds(60),
                usage: (@Sendable (_ provider: String, _ unit: String, _ amount: Int) async -> Void)? = nil,
                clock: @escaping @Sendable () -> Date = Date.init) {
        self.baseURL = ProviderSupport.trimmed(baseURL)
        self.safeSearch = safeSearch
        self.requests = StockRequests(provider: "Pixabay", key: apiKey, http: HTTP(family: .image, timeout: timeout), usage: usage, clock: clock)
    }

    /// The search languages Pixabay documents (its default is `en`).
    static let languages: Set<String> = ["cs", "da", "de", "en", "es", "fr", "id", "it", "hu", "nl", "no", "pl", "pt", "ro", "sk", "fi",
                                         "sv", "tr", "vi", "th", "bg", "ru", "el", "ja", "ko", "zh"]

    public func askedLanguage(_ language: String) -> String? { Self.lang(for: language) }

    /// Pixabay's `lang` for a BCP-47 tag: its primary language (Norwegian Bokmål and Nynorsk as
    /// `no`); nil when Pixabay has none.
    static func lang(for tag: String) -> String? {
        let language = Language.primarySubtag(tag)
        let code = ["nb": "no", "nn": "no"][language] ?? language
        return languages.contains(code) ? code : nil
    }

    public func search(_ terms: String, kind: FootageAsset.Kind, width: Int, height: Int, language: String) async throws -> [StockHit] {
        var q = URLComponents()
        var items = [
            URLQueryItem(name: "key", value: requests.key), URLQueryItem(name: "q", value: String(terms.prefix(100))),
            URLQueryItem(name: "safesearch", value: safeSearch ? "true" : "false"), URLQueryItem(name: "per_page", value: "20"),
        ]
        if let lang = Self.lang(for: language) { items.append(URLQueryItem(name: "lang", value: lang)) }
        if kind == .image {
            items += [URLQueryItem(name: "image_type", value: "photo"),
                      URLQueryItem(name: "orientation", value: height > width ? "vertical" : "horizontal")]
        }
        q.queryItems = items
        // `+` is a space in Pixabay's query strings; URLComponents leaves it as is.
        let query = (q.percentEncodedQuery ?? "").replacingOccurrences(of: "+", with: "%2B")
        let reply = try await requests.get(baseURL + (kind == .clip ? "/videos/" : "/") + "?" + query, headers: [],
                                           reset: { [clock] r in Self.resetSeconds(r).map { clock().addingTimeInterval($0) } },
                                           error: error)
        let json = try requests.json(reply)
        guard let hits = json["hits"] as? [[String: Any]] else {
            throw ProviderError(family: .image, reason: "bad_response", message: "Pixabay: HTTP \(reply.status) without `hits`", isRetryable: true)
        }
        return hits.compactMap { kind == .clip ? video(from: $0, width: width, height: height) : photo(from: $0) }
    }

    static func resetSeconds(_ reply: HTTP.Reply) -> Double? {
        reply.header("X-RateLimit-Reset").flatMap { Double($0.trimmingCharacters(in: .whitespaces)) }
    }

    func credit(_ h: [String: Any], id: Int, page: String) -> FootageCredit {
        let user = h["user"] as? String ?? "Unknown"
        let profile = (h["user_id"] as? Int).map { "https://pixabay.com/users/\(user)-\($0)/" }
        return FootageCredit(provider: provider, id: String(id), author: user, authorURL: profile, page: page, licence: Self.licence)
    }

    static func tags(_ h: [String: Any]) -> [String] {
        (h["tags"] as? String ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    func video(from h: [String: Any], width: Int, height: Int) -> StockHit? {
        guard let id = h["id"] as? Int, let page = h["pageURL"] as? String, let sizes = h["videos"] as? [String: Any] else { return nil }
        let files: [(width: Int, height: Int, item: String)] = ["large", "medium", "small", "tiny"].compactMap { name in
            guard let f = sizes[name] as? [String: Any], let url = f["url"] as? String, !url.isEmpty,
                  let w = f["width"] as? Int, let h = f["height"] as? Int else { return nil }
            return (w, h, url)
        }
        guard let file = StockHit.rendition(files, covering: width, height) else { return nil }
        return StockHit(kind: .clip, width: file.width, height: file.height, seconds: (h["duration"] as? NSNumber)?.doubleValue,
                        file: file.item, credit: credit(h, id: id, page: page), tags: Self.tags(h))
    }

    func photo(from h: [String: Any]) -> StockHit? {
        guard let id = h["id"] as? Int, let page = h["pageURL"] as? String,
              let w = h["imageWidth"] as? Int, let ht = h["imageHeight"] as? Int, w > 0, ht > 0 else { return nil }
        // The largest rendition the key may have: 1,920 px (full access) or 1,280 px on the long side.
        let (url, side): (String, Int)
        if let full = h["fullHDURL"] as? String, !full.isEmpty { (url, side) = (full, 1920) }
        else if let large = h["largeImageURL"] as? String, !large.isEmpty { (url, side) = (large, 1280) }
        else { return nil }
        let scale = min(1.0, Double(side) / Double(max(w, ht)))
        return StockHit(kind: .image, width: Int(Double(w) * scale), height: Int(Double(ht) * scale), seconds: nil, file: url,
                        credit: credit(h, id: id, page: page), tags: Self.tags(h))
    }

    func error(_ reply: HTTP.Reply) -> ProviderError {
        let text = requests.redact(reply.body.prefix(300).utf8Text.trimmingCharacters(in: .whitespacesAndNewlines))
        switch reply.status {
        case 400 where text.localizedCaseInsensitiveContains("api key"):
            return ProviderError(family: .image, reason: "unauthorized",
                                 message: "Pixabay refused the API key (HTTP 400): \(text); check PIXABAY_API_KEY", isRetryable: false)
        case 400:
            return ProviderError(family: .image, reason: "bad_request", message: "Pixabay: HTTP 400: \(text)", isRetryable: false)
        case 429:
            let at = reply.retryAfter(now: clock()) ?? Self.resetSeconds(reply).map { clock().addingTimeInterval($0) } ?? clock().addingTimeInterval(60)
            return ProviderError(family: .image, reason: "rate_limited",
                                 message: "Pixabay: HTTP 429 (\(text)): 100 requests a minute are allowed; retried at \(Timestamp.string(at))",
                                 isRetryable: true, retryAt: at)
        default:
            return requests.unexpected(reply)
        }
    }
}
