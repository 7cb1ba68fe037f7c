import ArgumentParser
import Foundation
import Logging

/// `--log-format`: human lines for people, one JSON object per line for machines.
public enum LogFormat: String, ExpressibleByArgument, Sendable, CaseIterable {
    case human, json
}

enum LogSetup {
    /// Bootstraps swift-log once for the process, writing to stderr.
    static func bootstrap(_ format: LogFormat, level: Logger.Level = .info) {
        LoggingSystem.bootstrap { label in
            var handler: any LogHandler = switch format {
            case .human: StreamLogHandler.standardError(label: label)
            case .json: JSONLogHandler(label: label)
            }
            handler.logLevel = level
            return handler
        }
    }
}

/// One JSON object per log line on stderr: `ts`, `level`, `label`, `message` and the metadata.
struct JSONLogHandler: LogHandler {
    let label: String
    var logLevel: Logger.Level = .info
    var metadata: Logger.Metadata = [:]

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    /// One line a log event: its keys are the metadata's, so a line is a flat object of strings
    /// (metadata values by their description), not a record of fixed shape.
    static let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return e
    }()

    func log(event: LogEvent) {
        var object: [String: String] = [
            "ts": ISO8601DateFormatter.string(from: Date(), timeZone: TimeZone(identifier: "UTC")!, formatOptions: [.withInternetDateTime, .withFractionalSeconds]),
            "level": event.level.rawValue, "label": label, "message": event.message.description,
        ]
        for (k, v) in metadata.merging(event.metadata ?? [:], uniquingKeysWith: { $1 }) { object[k] = v.description }
        guard let data = try? Self.encoder.encode(object) else { return }
        FileHandle.standardError.write(data + Data("\n".utf8))
    }
}
