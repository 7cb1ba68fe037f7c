import Foundation
import YTAutoCore
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
    public var outputDirectory: String
    public var channels: [ChannelConfig]

    enum CodingKeys: String, CodingKey {
        case outputDirectory = "output_dir"
        case channels
    }

    public init(outputDirectory: String = "./output", channels: [ChannelConfig]) {
        self.outputDirectory = outputDirectory
        self.channels = channels
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        outputDirectory = try c.decodeIfPresent(String.self, forKey: .outputDirectory) ?? "./output"
        channels = try c.decode([ChannelConfig].self, forKey: .channels)
    }

    /// The configuration `ytauto init` writes: the original system's three channels.
    public static let sample = AppConfig(channels: ChannelType.allCases.map(ChannelConfig.defaults(for:)))

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
        let config: AppConfig
        do {
            config = try YAMLDecoder().decode(AppConfig.self, from: text)
        } catch let error as DecodingError {
            throw ConfigError(path: path, problems: [describe(error)])
        } catch {
            throw ConfigError(path: path, problems: ["not valid YAML: \(error)"])
        }
        var problems: [String] = []
        var seen = Set<String>()
        for channel in config.channels {
            if !seen.insert(channel.name).inserted { problems.append("channel '\(channel.name)' is defined twice") }
            problems += channel.problems()
            if TimeZone(identifier: channel.timeZone) == nil {
                problems.append("channel '\(channel.name)': time_zone '\(channel.timeZone)' is not an IANA time zone such as America/New_York")
            }
        }
        if config.channels.isEmpty { problems.append("channels: at least one channel is needed") }
        guard problems.isEmpty else { throw ConfigError(path: path, problems: problems) }
        return config
    }

    static func describe(_ error: DecodingError) -> String {
        func where_(_ path: [any CodingKey]) -> String {
            guard !path.isEmpty else { return "the top level" }
            return path.reduce(into: "") { out, key in
                if let i = key.intValue { out += "[\(i)]" } else { out += (out.isEmpty ? "" : ".") + key.stringValue }
            }
        }
        switch error {
        case .keyNotFound(let key, let ctx):
            return "\(where_(ctx.codingPath)): the key '\(key.stringValue)' is missing"
        case .typeMismatch(let type, let ctx):
            return "\(where_(ctx.codingPath)): expected \(type): \(ctx.debugDescription)"
        case .valueNotFound(let type, let ctx):
            return "\(where_(ctx.codingPath)): expected a \(type), found nothing"
        case .dataCorrupted(let ctx):
            return "\(where_(ctx.codingPath)): \(ctx.debugDescription)"
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
