import Foundation
import YTAutoCore
import YTAutoMedia
import Yams

/// The contents of `ytauto.yaml`.
///
/// ```yaml
/// output_dir: ./output        # where finished videos are published
/// channels:
///   - name: horror            # the channel's name, used in jobs.channel
///     type: horror            # horror | facts | finance (defaults to the name)
///     schedule: ["0 18 * * 1,3,5"]
///     time_zone: America/New_York
///     duration: {min: 480, max: 720}
///     voice: en-deep
///     topics: [...]
/// ```
/// Keys left out of a channel take its type's defaults (``ChannelConfig/defaults(for:)``).
public struct AppConfig: Sendable, Codable, Hashable {
    /// Where finished videos are published (the local publisher's folder).
    public var outputDirectory: String
    /// Where jobs keep their intermediate files (`<work_dir>/<job id>/`).
    public var workDirectory: String
    public var channels: [ChannelConfig]
    /// Endpoints, models and limits of the network providers (used only by channels that choose them).
    public var providers = ProvidersConfig()

    enum CodingKeys: String, CodingKey, CaseIterable {
        case outputDirectory = "output_dir"
        case workDirectory = "work_dir"
        case channels, providers
    }

    /// The top-level keys of the file (unknown ones are refused, see ``ConfigSchema``).
    public static let configKeys = CodingKeys.allCases.map(\.stringValue)

    public init(outputDirectory: String = "./output", workDirectory: String = "./work", channels: [ChannelConfig]) {
        self.outputDirectory = outputDirectory
        self.workDirectory = workDirectory
        self.channels = channels
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        outputDirectory = try c.decodeIfPresent(String.self, forKey: .outputDirectory) ?? "./output"
        workDirectory = try c.decodeIfPresent(String.self, forKey: .workDirectory) ?? "./work"
        channels = try c.decode([ChannelConfig].self, forKey: .channels)
        providers = try c.decodeIfPresent(ProvidersConfig.self, forKey: .providers) ?? ProvidersConfig()
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(outputDirectory, forKey: .outputDirectory)
        try c.encode(workDirectory, forKey: .workDirectory)
        try c.encode(channels, forKey: .channels)
    }

    /// The configuration `ytauto init` writes: the original system's three channels, and a
    /// 45–60 s, 9:16 shorts variant of each.
    /// What `ytauto init` writes: a long and a short channel of each type, every one made
    /// offline (template scripts, espeak-ng, drawn scenes). The long channels are as long as the
    /// template writer keeps distinct from one video to the next (``offlineLongDuration(_:)``);
    /// at their types' 5–12 minute defaults the channel's second to fourth video repeated a
    /// recent one and failed `video.near_duplicate`. The file says to raise them with an LLM.
    public static let sample: AppConfig = {
        let long = ChannelType.allCases.map { type in
            var channel = ChannelConfig.defaults(for: type)
            channel.durationRange = offlineLongDuration(type)
            return channel
        }
        return AppConfig(channels: long + ChannelType.allCases.map(ChannelConfig.shorts(of:)))
    }()

    /// The sample's long channels' durations: the longest at which 60 videos in a row of the
    /// template writer, at the channel's voice's measured rate, never repeat a recent one's
    /// sentences as the near-duplicate check counts them (SampleChannelsTests), with a margin.
    static func offlineLongDuration(_ type: ChannelType) -> ChannelConfig.DurationRange {
        switch type {
        case .horror: .init(min: 160, max: 240)
        case .facts: .init(min: 80, max: 120)
        case .finance: .init(min: 100, max: 150)
        }
    }

    public func channel(named name: String) throws -> ChannelConfig {
        guard let c = channels.first(where: { $0.name == name }) else {
            throw ConfigError(path: nil, problems: [
                "no channel named '\(name)'; configured channels: \(channels.map(\.name).joined(separator: ", "))",
            ])
        }
        return c
    }

    /// Reads and checks a configuration file.
    /// - Throws: ``ConfigError`` naming the file and every problem found, with YAML line numbers when known.
    public static func load(path: String) throws -> AppConfig {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) else {
            throw ConfigError(path: path, problems: ["the file does not exist; run `ytauto init` to write a sample"])
        }
        if isFolder.boolValue {
            let inside = URL(fileURLWithPath: path).appending(path: "ytauto.yaml").path
            throw ConfigError(path: path, problems: ["it is a folder, not a file: give the configuration file itself (such as \(inside))"])
        }
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw ConfigError(path: path, problems: ["cannot read it: \(error.localizedDescription)"])
        }
        guard let text = String(validating: data, as: UTF8.self) else {
            // The line of the first byte that is not UTF-8.
            var bytes = data.makeIterator()
            var decoder = UTF8()
            var line = 1
            decoding: while true {
                switch decoder.decode(&bytes) {
                case .scalarValue(let scalar): if scalar == "\n" { line += 1 }
                case .emptyInput, .error: break decoding
                }
            }
            throw ConfigError(path: path, problems: ["line \(line): it is not UTF-8 text (save it as UTF-8)"])
        }
        return try parse(text, path: path)
    }

    /// Parses and checks a configuration, reporting every problem in the file at once: unknown and
    /// duplicated keys, out-of-range numbers, unknown words, bad cron expressions, time zones and
    /// voices (``ConfigSchema``), then each channel and the providers decoded on their own (so one
    /// broken channel does not hide another's problems), then what needs the decoded values
    /// (min above max, duplicate channel names).
    public static func parse(_ text: String, path: String? = nil) throws -> AppConfig {
        // A byte-order mark (some Windows editors save UTF-8 with one) is no part of the YAML:
        // Yams failed on it with "did not find expected <document start>" at line 2.
        let text = text.unicodeScalars.first == "\u{FEFF}" ? String(text.unicodeScalars.dropFirst()) : text
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch {
            throw ConfigError(path: path, problems: ["not valid YAML: \(error)"])
        }
        let locator = Locator(root: root)
        guard let root, case .mapping = root else {
            throw ConfigError(path: path, problems: [
                "line \(root?.mark?.line ?? 1): expected a mapping with a channels: list (ytauto init writes a sample)",
            ])
        }
        var problems = ConfigSchema.file.check(root)
        /// Decoding stops at a part's first problem; one the walk already named is not repeated.
        func add(_ keys: [any Sendable], _ message: String) {
            let field = ConfigSchema.field(keys)
            guard !problems.contains(where: { $0.field == field || field.hasPrefix($0.field + ".") || field.hasPrefix($0.field + "[") }) else { return }
            problems.append(.init(line: locator.line(keys), field: field, message: message))
        }
        /// Decodes a part, and at a problem with one of its keys names it, sets that key aside and
        /// decodes again, so that one bad key does not hide what only the decoded part shows (a
        /// channel with `max_attempts: 0` still has its min above max and its name twice named).
        /// A key set aside takes its default; `name` and `type`, which have none, take a stand-in,
        /// and `standIn` says so. Such a part serves only to find more problems: the file is refused.
        func decode<T: Decodable>(_ type: T.Type, _ node: Node, at keys: [any Sendable],
                                  standIns: [String: Node] = [:]) -> (value: T?, standIn: Set<String>) {
            var node = node
            var replaced = Set<String>()
            for _ in 0...(node.mapping?.count ?? 0) + standIns.count {
                do {
                    return (try YAMLDecoder().decode(T.self, from: try Yams.serialize(node: node)), replaced)
                } catch let error as DecodingError {
                    let (at, message) = describe(error)
                    add(keys + at, message)
                    guard let key = at.first as? String, case .mapping(let map) = node, !replaced.contains(key) else { break }
                    var pairs = map.filter { $0.key.string != key }.map { ($0.key, $0.value) }
                    if let standIn = standIns[key] {
                        pairs.append((Node(key), standIn))
                        replaced.insert(key)
                    } else if pairs.count == map.count {
                        break  // A missing key with no stand-in: nothing more can be learned.
                    }
                    node = .mapping(Node.Mapping(pairs, map.tag, map.style, map.mark))
                } catch {
                    add(keys, "\(error)")
                    break
                }
            }
            return (nil, replaced)
        }
        func folder(_ key: CodingKeys, default value: String) -> String {
            guard let node = root[key.rawValue] else { return value }
            guard case .scalar(let s) = node else { add([key.rawValue], "expected a folder path"); return value }
            if ConfigSchema.isNull(s) { return value }
            // An empty path put the job folders in the current folder, and `status` counted the
            // whole of it (the database too) as output.
            if s.string.trimmingCharacters(in: .whitespaces).isEmpty {
                add([key.rawValue], "an empty folder path; give a folder (\(value) when the key is left out)")
                return value
            }
            return s.string
        }
        var config = AppConfig(
            outputDirectory: folder(.outputDirectory, default: "./output"),
            workDirectory: folder(.workDirectory, default: "./work"),
            channels: [])
        if let node = root["providers"], !(node.scalar.map(ConfigSchema.isNull) ?? false) {
            if let providers = decode(ProvidersConfig.self, node, at: ["providers"]).value { config.providers = providers }
        }
        switch root["channels"] {
        case nil:
            add(["channels"], "the key 'channels' is missing")
        case .sequence(let list)?:
            var seen = Set<String>()
            for (i, node) in list.enumerated() {
                let (decoded, standIn) = decode(ChannelConfig.self, node, at: ["channels", i],
                                                standIns: ["name": Node("unnamed"), "type": Node(ChannelType.horror.rawValue)])
                guard let channel = decoded else { continue }
                config.channels.append(channel)
                if !standIn.contains("name"), !seen.insert(channel.name).inserted {
                    add(["channels", i, "name"], "channel '\(channel.name)' is defined twice")
                }
                for p in channel.problems() {
                    var keys: [any Sendable] = ["channels", i, p.field]
                    if let index = p.index { keys.append(index) }
                    add(keys, p.message)
                }
            }
            if list.isEmpty { add(["channels"], "at least one channel is needed") }
        case .some:
            add(["channels"], "expected a list of channels, each a mapping with a name")
        }
        guard problems.isEmpty else {
            // In file order; problems without a line last.
            let ordered = problems.enumerated().sorted { a, b in
                (a.element.line ?? .max, a.offset) < (b.element.line ?? .max, b.offset)
            }
            throw ConfigError(path: path, problems: ordered.map(\.element.text))
        }
        return config
    }

    /// Finds the YAML line of a key path, to name it in errors. A key that is missing is
    /// reported at the line of the mapping that lacks it.
    struct Locator {
        let root: Node?

        func line(_ keys: [any Sendable]) -> Int? {
            guard var node = root else { return nil }
            var line = node.mark?.line
            for key in keys {
                var next: Node?
                if let i = key as? Int, case .sequence(let seq) = node, i < seq.count {
                    next = seq[seq.index(seq.startIndex, offsetBy: i)]
                } else if let k = key as? String, case .mapping(let map) = node {
                    // The key's own line reads best ("schedule:"), not the value's.
                    for (kn, vn) in map where kn.string == k {
                        line = kn.mark?.line ?? line
                        next = vn
                    }
                    if next == nil { return line }
                    node = next!
                    continue
                }
                guard let n = next else { return line }
                node = n
                line = n.mark?.line ?? line
            }
            return line
        }
    }

    /// A decoded type in the words of a YAML file: `[String]` is "a list", `Int` "a whole number".
    static func kind(_ type: Any.Type) -> String {
        let name = String(describing: type)
        if name.hasPrefix("Array<") || name.hasPrefix("Set<") { return ConfigSchema.list }
        if name.hasPrefix("Dictionary<") { return ConfigSchema.mapping }
        switch name {
        case "String": return "text"
        case "Int", "Int64", "Int32", "UInt": return "a whole number"
        case "Double", "Float": return "a number"
        case "Bool": return "true or false"
        default: return "a mapping (key: value lines)"  // a struct of the configuration
        }
    }

    /// The key path (from the decoded part's root) and message of a decoding error.
    static func describe(_ error: DecodingError) -> ([any Sendable], String) {
        func keys(_ path: [any CodingKey]) -> [any Sendable] {
            path.map { key -> any Sendable in key.intValue.map { $0 as any Sendable } ?? key.stringValue }
        }
        switch error {
        case .keyNotFound(let key, let ctx):
            return (keys(ctx.codingPath) + [key.stringValue], "the key '\(key.stringValue)' is missing")
        case .typeMismatch(let type, let ctx):
            // Yams says "Expected to decode Sequence but found Node"; say what the key takes.
            let said = ctx.debugDescription
            if said.hasPrefix("Expected to decode Sequence") { return (keys(ctx.codingPath), "expected \(kind([String].self))") }
            if said.hasPrefix("Expected to decode Mapping") { return (keys(ctx.codingPath), "expected \(kind([String: String].self))") }
            return (keys(ctx.codingPath), "expected \(kind(type))" + (said.hasPrefix("Expected to decode") ? "" : ": \(said)"))
        case .valueNotFound(let type, let ctx):
            return (keys(ctx.codingPath), "expected \(kind(type)), found nothing")
        case .dataCorrupted(let ctx):
            return (keys(ctx.codingPath), ctx.debugDescription)
        @unknown default:
            return ([], String(describing: error))
        }
    }

    /// The YAML text of this configuration, with a header that explains it.
    public func yaml() throws -> String {
        let body = try YAMLEncoder().encode(self)
        return """
            # ytauto configuration. Channels missing a key take their type's defaults.
            # schedule: 5-field cron (minute hour day-of-month month day-of-week) in time_zone.
            # duration: seconds of the finished video. priority: lower runs first.
            # missed_slots: skip | latest | all, for slots missed while the scheduler was down,
            #   within catch_up_window (30m, 6h, 2d). topic_recency_days: a topic is not reused sooner.
            # The long channels' durations suit the offline template scripts, which longer videos
            #   would repeat from one video to the next; with an LLM writing them (a channel's
            #   script: openai or anthropic), raise them (the types' defaults: horror 480-720,
            #   facts 300-480, finance 300-600).

            """ + body
    }
}

/// A configuration that cannot be used, with every problem found.
public struct ConfigError: Error, Sendable, CustomStringConvertible {
    public let path: String?
    public let problems: [String]
    public var description: String {
        let head = path.map { "configuration \($0) is not usable" } ?? "configuration is not usable"
        return head + ":\n" + problems.map { "  - \($0)" }.joined(separator: "\n")
    }
}
