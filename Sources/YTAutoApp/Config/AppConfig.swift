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

    enum CodingKeys: String, CodingKey {
        case outputDirectory = "output_dir"
        case workDirectory = "work_dir"
        case channels, providers
    }

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
    public static let sample = AppConfig(channels: ChannelType.allCases.map(ChannelConfig.defaults(for:))
        + ChannelType.allCases.map(ChannelConfig.shorts(of:)))

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
        guard FileManager.default.fileExists(atPath: path) else {
            throw ConfigError(path: path, problems: ["the file does not exist; run `ytauto init` to write a sample"])
        }
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw ConfigError(path: path, problems: ["cannot read it: \(error.localizedDescription)"])
        }
        return try parse(text, path: path)
    }

    public static func parse(_ text: String, path: String? = nil) throws -> AppConfig {
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch let error as YamlError {
            throw ConfigError(path: path, problems: ["not valid YAML: \(error)"])
        } catch {
            throw ConfigError(path: path, problems: ["not valid YAML: \(error)"])
        }
        let locator = Locator(root: root)
        let config: AppConfig
        do {
            config = try YAMLDecoder().decode(AppConfig.self, from: text)
        } catch let error as DecodingError {
            throw ConfigError(path: path, problems: [describe(error, locator)])
        } catch {
            throw ConfigError(path: path, problems: ["not valid YAML: \(error)"])
        }
        var problems: [String] = []
        var seen = Set<String>()
        for (i, channel) in config.channels.enumerated() {
            if !seen.insert(channel.name).inserted {
                problems.append(locator.describe(["channels", i, "name"], "channel '\(channel.name)' is defined twice"))
            }
            if EspeakVoice.named(channel.voiceID) == nil {
                problems.append(locator.describe(["channels", i, "voice"],
                    "'\(channel.voiceID)' is not a known voice; use one of \(EspeakVoice.known.joined(separator: ", "))"))
            }
            for p in channel.problems() {
                var keys: [any Sendable] = ["channels", i, p.field]
                if let index = p.index { keys.append(index) }
                problems.append(locator.describe(keys, p.message))
            }
        }
        if config.channels.isEmpty { problems.append(locator.describe(["channels"], "at least one channel is needed")) }
        guard problems.isEmpty else { throw ConfigError(path: path, problems: problems) }
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

        func field(_ keys: [any Sendable]) -> String {
            keys.reduce(into: "") { out, key in
                if let i = key as? Int { out += "[\(i)]" } else { out += (out.isEmpty ? "" : ".") + "\(key)" }
            }
        }

        func describe(_ keys: [any Sendable], _ message: String) -> String {
            let at = line(keys).map { "line \($0), " } ?? ""
            return "\(at)\(field(keys)): \(message)"
        }
    }

    static func describe(_ error: DecodingError, _ locator: Locator) -> String {
        func keys(_ path: [any CodingKey]) -> [any Sendable] {
            path.map { key -> any Sendable in key.intValue.map { $0 as any Sendable } ?? key.stringValue }
        }
        switch error {
        case .keyNotFound(let key, let ctx):
            return locator.describe(keys(ctx.codingPath) + [key.stringValue], "the key '\(key.stringValue)' is missing")
        case .typeMismatch(let type, let ctx):
            return locator.describe(keys(ctx.codingPath), "expected \(type): \(ctx.debugDescription)")
        case .valueNotFound(let type, let ctx):
            return locator.describe(keys(ctx.codingPath), "expected a \(type), found nothing")
        case .dataCorrupted(let ctx):
            return locator.describe(keys(ctx.codingPath), ctx.debugDescription)
        @unknown default:
            return String(describing: error)
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
