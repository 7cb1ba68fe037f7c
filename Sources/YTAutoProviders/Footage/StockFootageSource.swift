import Foundation
import NIOHTTP1
import YTAutoCore
import YTAutoSupport

/// One photo or video a stock provider found, with the rendition ytauto would download.
public struct StockHit: Sendable, Codable, Hashable {
    public var kind: FootageAsset.Kind
    /// The rendition's size (for a photo, its size as downloaded).
    public var width: Int
    public var height: Int
    /// A video's length in seconds.
    public var seconds: Double?
    /// Where the rendition is downloaded from.
    public var file: String
    public var credit: FootageCredit
    /// The provider's own tags or description words.
    public var tags: [String]

    public init(kind: FootageAsset.Kind, width: Int, height: Int, seconds: Double?, file: String, credit: FootageCredit, tags: [String]) {
        self.kind = kind
        self.width = width
        self.height = height
        self.seconds = seconds
        self.file = file
        self.credit = credit
        self.tags = tags
    }

    /// The rendition to download among `(width, height, url)`: the smallest that covers
    /// `width`×`height` without being scaled up, else the largest.
    static func rendition<T>(_ files: [(width: Int, height: Int, item: T)], covering width: Int, _ height: Int) -> (width: Int, height: Int, item: T)? {
        let usable = files.filter { $0.width > 0 && $0.height > 0 }
        let covering = usable.filter { $0.width >= width && $0.height >= height }
        if let best = covering.min(by: { $0.width * $0.height < $1.width * $1.height }) { return best }
        return usable.max(by: { $0.width * $0.height < $1.width * $1.height })
    }
}

/// A stock provider's search: ``PexelsSearch``, ``PixabaySearch``.
public protocol StockSearch: Sendable {
    /// The provider's name as it asks to be credited (`Pexels`, `Pixabay`).
    var provider: String { get }
    /// The hits for `terms`, best first as the provider ranks them, each with the rendition
    /// nearest above `width`×`height`. `orientation` is asked of the provider where it can filter by it.
    /// `language` is the BCP-47 tag the terms are written in (``StockFootageSource``), told to
    /// the provider in the form it takes, where it takes that language; otherwise the provider's
    /// default (English) is left to apply.
    func search(_ terms: String, kind: FootageAsset.Kind, width: Int, height: Int, language: String) async throws -> [StockHit]
    /// `language` (a BCP-47 tag) as the provider is told it, or nil when it is not told one (it
    /// lacks that language): searches told the same are the same search, and share a cache entry.
    func askedLanguage(_ language: String) -> String?
}

extension StockSearch {
    /// The tag as given: a provider that takes language tags as they are.
    public func askedLanguage(_ language: String) -> String? { language }
}

/// Scenes' footage from a stock provider (`images: pexels` or `images: pixabay`).
///
/// - **Search terms** per scene: the script's visual for it when its writer gave one (an LLM is
///   asked for one a sentence, ``Script/visuals``), then up to three of the narration's most
///   specific words (``FootageWords/searchTerms(_:limit:language:)``), then its single most specific word,
///   then the topic's words. Videos are searched first, photos next, for each.
/// - **Language**: the narration's and the topic's words are searched in the channel's
///   `language` (Pexels' `locale`, Pixabay's `lang`): a Spanish script's words searched as English
///   find little or the wrong thing. The script's visuals are searched in English, the language
///   its writer is asked to write them in.
/// - **Choice**: the provider's order, preferring the format's orientation and a clip at least
///   as long as the scene (a shorter one loops). Never a hit the channel used in the last
///   `footage_reuse_days` days in another job (``FootageLedger``), nor one already in this video.
///   A scene for which nothing unused is found fails the stage `image.no_footage` (not retried:
///   the searches would find the same).
/// - **Cache**: searches are kept 24 hours (`<cache>/search/`, Pixabay's rule and Pexels'
///   advice), downloads until `ytauto-admin prune` finds them unused (`<cache>/<provider>/`,
///   ``StockCache``), so a retried stage or another channel using the same clip downloads
///   nothing; each file is checked with ffprobe before use.
/// - Each hit is claimed in the footage ledger as it is chosen, before its download, so that two
///   jobs of a channel choosing at once never take the same one (the later claim is refused and
///   the next best taken). A job that fails afterwards keeps its claims: a retry of it may use
///   them, other jobs not within the window. Each asset's author, page and licence go into
///   media.json, from which the description credits them.
/// - The music bed comes from the channel's media library when it has one, else is synthesised.
public struct StockFootageSource: FootageSource {
    let search: any StockSearch
    let cache: URL
    let channel: String
    /// The channel's language (a BCP-47 tag), which its scripts and so the search terms are in.
    let language: String
    let reuseDays: Int
    let ledger: (any FootageLedger)?
    let width: Int
    let height: Int
    let tools: ToolRunner
    let musicSource: (any FootageSource)?
    let http: HTTP
    let clock: @Sendable () -> Date
    /// Searches older than this are asked again.
    public static let searchLifetime: TimeInterval = 24 * 3600

    /// - Parameters:
    ///   - width, height: the video's format; renditions are chosen to cover it.
    ///   - musicSource: where the music bed comes from (the channel's media library), if anywhere.
    public init(
        search: any StockSearch, cache: URL, channel: String, language: String = "en", reuseDays: Int, ledger: (any FootageLedger)?,
        width: Int, height: Int, tools: ToolRunner, musicSource: (any FootageSource)? = nil, timeout: Duration = .seconds(600),
        clock: @escaping @Sendable () -> Date = Date.init
    ) {
        self.search = search
        self.cache = cache
        self.channel = channel
        self.language = language
        self.reuseDays = reuseDays
        self.ledger = ledger
        self.width = width
        self.height = height
        self.tools = tools
        self.musicSource = musicSource
        self.http = HTTP(family: .image, timeout: timeout)
        self.clock = clock
    }

    public func footage(for scenes: [FootageQuery], job: Int64) async throws -> [FootageAsset] {
        let used = try await ledger?.footageUsed(channel: channel, days: reuseDays, excludingJob: job) ?? []
        var taken = used
        var chosen: [(hit: StockHit, terms: [String])] = []
        for scene in scenes {
            while true {
                let pick = try await choose(for: scene, taken: taken, usedBefore: used.count)
                let key = pick.hit.credit.key(kind: pick.hit.kind)
                taken.insert(key)
                // Claimed as it is chosen: another job of the channel choosing at the same time
                // (read the ledger before this claim) is refused it and takes its next best.
                if try await ledger?.claimFootage(channel: channel, job: job, key: key, days: reuseDays) ?? true {
                    chosen.append(pick)
                    break
                }
            }
        }
        let provider = search.provider.lowercased()
        let assets = try await concurrentMap(chosen, width: 3) { _, pick in
            FootageAsset(kind: pick.hit.kind, path: try await fetch(pick.hit), source: provider, tags: pick.hit.tags,
                         matched: pick.terms, seconds: pick.hit.seconds, credit: pick.hit.credit)
        }
        return assets
    }

    public func music(tags: [String], job: Int64) async throws -> FootageAsset? {
        try await musicSource?.music(tags: tags, job: job)
    }

    /// The searches for a scene, most specific first, each once: the script's visual for it
    /// (as written, at most six words), then its narration's words, then the topic's.
    static func queries(for scene: FootageQuery, language: String = "en") -> [[String]] {
        let visual = visualTerms(scene)
        let said = FootageWords.searchTerms(scene.text, language: language)
        let longest = FootageWords.searchTerms(scene.text, limit: 1, language: language)
        let topic = FootageWords.searchTerms(scene.topic, language: language)
        var out: [[String]] = []
        for q in [visual, said, longest, topic] where !q.isEmpty && !out.contains(q) { out.append(q) }
        return out
    }

    /// The script's visual for the scene as search words (at most six). The script's writer is
    /// asked for them in English whatever the channel's language (``ScriptPrompt``).
    static func visualTerms(_ scene: FootageQuery) -> [String] {
        (scene.visual ?? "").lowercased().split(whereSeparator: { !($0.isLetter || $0.isNumber || $0 == "'") }).prefix(6).map(String.init)
    }

    func choose(for scene: FootageQuery, taken: Set<String>, usedBefore: Int) async throws -> (hit: StockHit, terms: [String]) {
        let queries = Self.queries(for: scene, language: language)
        let visual = Self.visualTerms(scene)
        for terms in queries {
            // The visual is English; the narration's and the topic's words are in the channel's language.
            let language = !visual.isEmpty && terms == visual ? "en" : self.language
            for kind in [FootageAsset.Kind.clip, .image] {
                let hits = try await cachedSearch(terms.joined(separator: " "), kind: kind, language: language)
                if let hit = Self.best(hits, for: scene, taken: taken, width: width, height: height) { return (hit, terms) }
            }
        }
        let asked = queries.map { "'\($0.joined(separator: " "))'" }.joined(separator: ", ")
        throw ProviderError(
            family: .image, reason: "no_footage",
            message: "\(search.provider) has no unused video or photo for scene \(scene.index + 1) (searched \(asked.isEmpty ? "nothing: the scene has no words to search" : asked); "
                + "\(usedBefore) used on channel \(channel) in the last \(reuseDays) days are left out)",
            isRetryable: false)
    }

    /// The first hit in the provider's order that is not taken, preferring the format's
    /// orientation, then a clip that lasts the scene.
    static func best(_ hits: [StockHit], for scene: FootageQuery, taken: Set<String>, width: Int, height: Int) -> StockHit? {
        let portrait = height > width
        let ranked = hits.enumerated().filter { !taken.contains($0.element.credit.key(kind: $0.element.kind)) }.map { i, hit in
            (hit: hit, wrongWay: (hit.height > hit.width) != portrait ? 1 : 0,
             short: hit.kind == .clip && (hit.seconds ?? 0) < scene.seconds ? 1 : 0, order: i)
        }
        return ranked.min { ($0.wrongWay, $0.short, $0.order) < ($1.wrongWay, $1.short, $1.order) }?.hit
    }

    /// A search, from the cache when it was made less than ``searchLifetime`` ago.
    func cachedSearch(_ terms: String, kind: FootageAsset.Kind, language: String) async throws -> [StockHit] {
        // Keyed on the language as the provider is told it: `es` and `es-MX` are one Pixabay search.
        let name = Checksum.sha256Hex("\(search.provider)|\(kind.rawValue)|\(terms)|\(width)x\(height)|\(search.askedLanguage(language) ?? "-")")
        let file = cache.appending(path: "search").appending(path: "\(search.provider.lowercased())-\(name.prefix(24)).json")
        if let made = (try? FileManager.default.attributesOfItem(atPath: file.path))?[.modificationDate] as? Date,
           clock().timeIntervalSince(made) < Self.searchLifetime, made <= clock(),
           let hits = try? JSONDecoder().decode([StockHit].self, from: Data(contentsOf: file)) {
            return hits
        }
        let hits = try await search.search(terms, kind: kind, width: width, height: height, language: language)
        try await Files.write(try JSONEncoder().encode(hits), to: file.path)
        return hits
    }

    /// The hit's file in the download cache, fetched if missing; checked with ffprobe.
    func fetch(_ hit: StockHit) async throws -> String {
        let ext = Self.fileExtension(hit.file, kind: hit.kind)
        let safeID = hit.credit.id.filter { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" }
        let path = cache.appending(path: search.provider.lowercased())
            .appending(path: "\(hit.kind.rawValue)-\(safeID)-\(hit.width)x\(hit.height).\(ext)").path
        // There, and kept by `ytauto-admin prune` from now (StockCache); else (a prune took it) fetched again.
        if StockCache.markUsed(path) { return path }
        let what = "\(search.provider) \(hit.kind == .clip ? "video" : "photo") \(hit.credit.id)"
        try await Files.atomically(path) { tmp in
            let reply = try await http.download(hit.file, to: tmp)
            guard (200..<300).contains(reply.status) else {
                throw ProviderError(family: .image, reason: reply.status >= 500 || reply.status == 429 ? "server_error" : "bad_response",
                                    message: "\(what): the download answered HTTP \(reply.status): \(reply.errorText)",
                                    isRetryable: true, retryAt: reply.retryAfter())
            }
            let probe: [String: Any]
            do { probe = try await tools.probe(tmp) } catch let e as FFmpegError where e.exitStatus != nil {
                throw ProviderError(family: .image, reason: "bad_response", message: "\(what): the file is not a picture or video ffmpeg can read: \(e.stderrTail)",
                                    isRetryable: true)
            }
            let streams = probe["streams"] as? [[String: Any]] ?? []
            guard streams.contains(where: { $0["codec_type"] as? String == "video" && ($0["width"] as? Int ?? 0) > 0 }) else {
                throw ProviderError(family: .image, reason: "bad_response", message: "\(what): the file has no picture", isRetryable: true)
            }
        }
        return path
    }

    static func fileExtension(_ url: String, kind: FootageAsset.Kind) -> String {
        let ext = (URL(string: url)?.pathExtension ?? "").lowercased()
        let known: Set<String> = kind == .clip ? ["mp4", "mov", "webm", "m4v"] : ["jpg", "jpeg", "png", "webp"]
        return known.contains(ext) ? ext : (kind == .clip ? "mp4" : "jpg")
    }
}

/// What the stock providers share: the key kept out of every message, 429s and remaining-request
/// counts turned into a retry time, the ledger told of each request.
struct StockRequests: Sendable {
    let provider: String
    let key: String
    let http: HTTP
    let usage: UsageReport?
    /// When the provider said no request remains, until when (from a 2xx's headers); shared by the searches of one stage.
    let exhausted = Locked<Date?>(nil)
    let clock: @Sendable () -> Date

    /// Sends `url` (its query carries the terms) with `headers`; refuses without sending while the
    /// provider has said no request remains. Returns a 2xx reply; other statuses go to `error`.
    func get(_ url: String, headers: [(String, String)], reset: (HTTP.Reply) -> Date?,
             error: (HTTP.Reply) -> ProviderError) async throws -> HTTP.Reply {
        if let until = exhausted.value, until > clock() {
            throw ProviderError(family: .image, reason: "rate_limited",
                                message: "\(provider): no request of the key's allowance remains until \(Timestamp.string(until))",
                                isRetryable: true, retryAt: until)
        }
        let reply = try await http.send(.GET, url, headers: headers)
        guard (200..<300).contains(reply.status) else { throw error(reply) }
        await usage?(provider.lowercased(), "requests", 1)
        if let remaining = reply.header("X-Ratelimit-Remaining").flatMap({ Int($0.trimmingCharacters(in: .whitespaces)) }), remaining <= 0 {
            exhausted.value = reset(reply)
        }
        return reply
    }

    /// The reply's JSON object, or a retryable `image.bad_response`.
    func json(_ reply: HTTP.Reply) throws -> [String: Any] {
        try ProviderSupport.json(reply, family: .image, what: provider)
    }

    func redact(_ text: String) -> String { ProviderSupport.redact(text, key: key) }

    /// The error for a status the provider's own mapping leaves to the usual rules, key cut out.
    func unexpected(_ reply: HTTP.Reply) -> ProviderError {
        ProviderSupport.unexpected(http, reply, during: "\(provider) search", key: key)
    }
}
