import Foundation
import YTAutoCore
import YTAutoSupport

/// The operator's own footage: a folder of pictures, video clips and music (`media_library:` on a
/// channel), chosen for each scene by the words it is tagged with.
///
/// A file's tags are the names of the folders it is in (below the library's root), the words of
/// its own name, and the words of a sidecar `<file>.tags` beside it if there is one (words or
/// phrases, separated by commas, spaces or lines). So `horror/forest/fog_at_night.mp4` is tagged
/// horror, forest, fog, night. Pictures are `.jpg`, `.jpeg`, `.png` and `.webp`; clips `.mp4`,
/// `.mov`, `.m4v`, `.mkv` and `.webm`; music `.wav`, `.mp3`, `.m4a`, `.ogg`, `.oga` and `.flac`.
/// Hidden files and anything else are ignored.
///
/// A scene gets the picture or clip whose tags best match its narration (twice) and the video's
/// topic (once), a clip before a picture when they match equally. A video uses each file once
/// while an unused one still matches; then the matching one used least; a scene that matches
/// nothing gets an unused file (then the least used), picked by the job so that a retry picks the
/// same. Words are compared as ``FootageWords/words(_:language:)`` makes them: lower-cased,
/// accents folded, a plural meeting its singular, leaving out words of fewer than three letters
/// and the common words of the channel's language (the narration's and the topic's; a file's own
/// words lose only English's, since its name may be in any language).
///
/// Across videos, with a footage ledger: a file the channel used in another job within its
/// `footage_reuse_days` counts as used once already, so a scene takes a matching file the channel
/// has not shown lately while there is one (a preference, not a refusal as for stock footage: a
/// library is the operator's own and may be small). What a video used is recorded in the ledger as
/// `library:<clip|image>:<path in the library>`.
public struct MediaLibrary: FootageSource {
    public let root: URL
    let tools: ToolRunner
    /// The first scan's files: one images stage asks for footage and then for music, and the
    /// folder is walked (and its sidecars read) once for both.
    private let scanned = Locked<[Item]?>(nil)
    let ledger: (any FootageLedger)?
    let channel: String
    let reuseDays: Int
    /// The channel's language (a BCP-47 tag): its narration's common words match no file.
    let language: String

    public init(root: URL, tools: ToolRunner, ledger: (any FootageLedger)? = nil, channel: String = "", reuseDays: Int = 0,
                language: String = "en") {
        self.root = root.standardizedFileURL
        self.tools = tools
        self.ledger = ledger
        self.channel = channel
        self.reuseDays = reuseDays
        self.language = language
    }

    /// The file's key in the footage ledger: `library:clip:forest/fog_at_night.mp4`.
    func key(_ item: Item) -> String {
        "library:\(item.kind.rawValue):" + item.path.dropFirst(root.path.count).drop { $0 == "/" }
    }

    static let imageExtensions: Set<String> = ["jpg", "jpeg", "png", "webp"]
    static let clipExtensions: Set<String> = ["mp4", "mov", "m4v", "mkv", "webm"]
    static let musicExtensions: Set<String> = ["wav", "mp3", "m4a", "ogg", "oga", "flac"]

    /// A file of the library and its tags.
    struct Item: Hashable, Sendable {
        var kind: FootageAsset.Kind
        var path: String
        var tags: Set<String>
    }

    /// Every usable file, in path order, from the first scan.
    func files() throws(MediaLibraryError) -> [Item] {
        if let items = scanned.value { return items }
        let items = try scan()
        scanned.value = items
        return items
    }

    /// Every usable file, in path order.
    func scan() throws(MediaLibraryError) -> [Item] {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: root.path, isDirectory: &isFolder), isFolder.boolValue else {
            throw MediaLibraryError(path: root.path, problem: "is not a folder")
        }
        guard let walk = FileManager.default.enumerator(at: root, includingPropertiesForKeys: [.isRegularFileKey],
                                                        options: [.skipsHiddenFiles]) else {
            throw MediaLibraryError(path: root.path, problem: "cannot be read")
        }
        var items: [Item] = []
        for case let url as URL in walk {
            let ext = url.pathExtension.lowercased()
            let kind: FootageAsset.Kind
            if Self.imageExtensions.contains(ext) { kind = .image }
            else if Self.clipExtensions.contains(ext) { kind = .clip }
            else if Self.musicExtensions.contains(ext) { kind = .music }
            else { continue }
            guard (try? url.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile) == true else { continue }
            let file = url.standardizedFileURL
            let relative = file.path.dropFirst(root.path.count).split(separator: "/").dropLast().joined(separator: " ")
            var tags = Self.words(relative + " " + file.deletingPathExtension().lastPathComponent, language: language)
            if let sidecar = try? String(contentsOf: URL(fileURLWithPath: file.path + ".tags"), encoding: .utf8) {
                tags.formUnion(Self.words(sidecar, language: language))
            }
            items.append(Item(kind: kind, path: file.path, tags: tags))
        }
        return items.sorted { $0.path < $1.path }
    }

    public func footage(for scenes: [FootageQuery], job: Int64) async throws -> [FootageAsset] {
        let seed = String(job)
        let items = try files().filter { $0.kind != .music }
        guard !items.isEmpty else {
            throw MediaLibraryError(path: root.path, problem: "has no pictures or clips (looked for \(Self.listed(Self.imageExtensions.union(Self.clipExtensions))))")
        }
        var uses: [String: Int] = [:]
        if let ledger {
            let recent = try await ledger.footageUsed(channel: channel, days: reuseDays, excludingJob: job)
            for item in items where recent.contains(key(item)) { uses[item.path] = 1 }
        }
        var out: [FootageAsset] = []
        var chosen: [String] = []
        for scene in scenes {
            let (item, matched) = Self.choose(items, text: scene.text, topic: scene.topic, uses: uses, seed: "\(seed)|\(scene.index)",
                                             language: language)
            uses[item.path, default: 0] += 1
            var asset = FootageAsset(kind: item.kind, path: item.path, source: "library", tags: item.tags.sorted(), matched: matched)
            if item.kind == .clip { asset.seconds = try await tools.duration(of: item.path) }
            out.append(asset)
            chosen.append(key(item))
        }
        try await ledger?.recordFootage(channel: channel, job: job, keys: chosen)
        return out
    }

    public func music(tags: [String], job: Int64) async throws -> FootageAsset? {
        let seed = String(job)
        let tracks = try files().filter { $0.kind == .music }
        guard !tracks.isEmpty else { return nil }
        // The channel's type, mood and name: English words, whatever the narration's language.
        let wanted = Self.words(tags.joined(separator: " "))
        let matching = tracks.filter { !$0.tags.isDisjoint(with: wanted) }
        let pool = matching.isEmpty ? tracks : matching
        let item = pool.min { Self.rank(seed, $0.path) < Self.rank(seed, $1.path) }!
        return FootageAsset(kind: .music, path: item.path, source: "library", tags: item.tags.sorted(),
                            matched: item.tags.intersection(wanted).sorted(), seconds: try await tools.duration(of: item.path))
    }

    /// The item for a scene, and the words it matched (see the type's documentation for the order).
    static func choose(_ items: [Item], text: String, topic: String, uses: [String: Int], seed: String,
                       language: String = "en") -> (Item, [String]) {
        let spoken = FootageWords.words(text, language: language), about = FootageWords.words(topic, language: language)
        func meets(_ item: Item, _ words: [FootageWords.Word]) -> [String] { words.filter { !$0.forms.isDisjoint(with: item.tags) }.map(\.word) }
        func score(_ item: Item) -> Int { 2 * meets(item, spoken).count + meets(item, about).count }
        func kindRank(_ item: Item) -> Int { item.kind == .clip ? 1 : 0 }
        let scored = items.map { (item: $0, score: score($0), used: uses[$0.path] ?? 0, tie: rank(seed, $0.path)) }
        let pick = scored.min { a, b in
            // Matching first; among matching, unused first, then the better match, then the less used.
            let aMatch = a.score > 0, bMatch = b.score > 0
            if aMatch != bMatch { return aMatch }
            if (a.used == 0) != (b.used == 0) { return a.used == 0 }
            if a.score != b.score { return a.score > b.score }
            if a.used != b.used { return a.used < b.used }
            if kindRank(a.item) != kindRank(b.item) { return kindRank(a.item) > kindRank(b.item) }
            return a.tie < b.tie
        }!
        return (pick.item, Set(meets(pick.item, spoken) + meets(pick.item, about)).sorted())
    }

    /// A stable pseudo-random order of paths for a seed.
    static func rank(_ seed: String, _ path: String) -> UInt64 {
        var rng = SplitMix64(text: "library|\(seed)|\(path)")
        return rng.next()
    }

    /// A file's tags from `text`, its folders', name's or sidecar's words, their plurals read as
    /// the channel's `language` reads them (``FootageWords/tags(_:language:)``).
    static func words(_ text: String, language: String? = nil) -> Set<String> { FootageWords.tags(text, language: language) }

    static func listed(_ extensions: Set<String>) -> String { extensions.sorted().map { "." + $0 }.joined(separator: ", ") }
}

/// The media library cannot give what a video needs.
public struct MediaLibraryError: YTAutoError {
    public let path: String
    public let problem: String
    public var code: String { "media.library" }
    public var message: String { "the media library \(path) \(problem)" }
    public var isRetryable: Bool { false }
}
