import Foundation
import YTAutoCore
import YTAutoMedia
import Yams

/// The shape of `ytauto.yaml`, checked on the YAML node tree before anything is decoded.
///
/// Decoding into Swift types ignores keys it does not know and keeps only one of two equal keys,
/// so `schedul:` (a typo for `schedule:`) silently gave the channel its type's default schedule.
/// This walk finds every unknown key (with the nearest known one as a suggestion), every
/// duplicated key, and every whole number or duration outside its range, in the whole file at
/// once, each with its line. Known keys come from the types' own `CodingKeys`, so a key added
/// to a type is known here too.
indirect enum ConfigSchema: Sendable {
    /// Any value; decoding checks its type.
    case any
    /// A decimal whole number in the range.
    case whole(ClosedRange<Int>)
    /// A duration (`30m`, `6h`, `2d`) in the range of seconds.
    case duration(ClosedRange<Double>)
    /// One of these words; `what` names the kind in the message ("a channel type").
    case choice([String], what: String)
    /// Text that `problem` checks, returning the message when it is not usable (a cron
    /// expression, a time zone): checked here too so that a channel whose decoding stops
    /// early still has every such problem reported.
    case text(problem: @Sendable (String) -> String?)
    /// A mapping with these keys only.
    case map([String: ConfigSchema])
    /// A list whose items have this shape; `what` names it when something else is found.
    case list(ConfigSchema, what: String = ConfigSchema.list)
    /// A mapping whose keys the operator chooses; `validKey` says whether one is usable.
    case dictionary(keyName: String, validKey: @Sendable (String) -> Bool, value: ConfigSchema)

    /// A problem with its line (1-based) and key path, e.g. `channels[0].schedul`.
    struct Problem: Hashable {
        var line: Int?
        var field: String
        var message: String
        var text: String { "\(line.map { "line \($0), " } ?? "")\(field): \(message)" }
    }

    /// The whole file: `output_dir`, `work_dir`, `channels`, `providers`.
    static let file: ConfigSchema = .map(keys(AppConfig.configKeys, [
        "channels": .list(channel, what: "a list of channels, each a mapping with a name"),
        "providers": providers,
    ]))

    static let channel: ConfigSchema = .map(keys(ChannelConfig.configKeys, [
        "duration": .map(keys(ChannelConfig.DurationRange.configKeys, [
            "min": .whole(ConfigLimits.videoSeconds), "max": .whole(ConfigLimits.videoSeconds),
        ])),
        "type": .choice(ChannelType.allCases.map(\.rawValue), what: "a channel type"),
        "missed_slots": .choice(MissedSlotPolicy.allCases.map(\.rawValue), what: "a missed_slots policy"),
        "format": .choice(VideoFormat.allCases.map(\.rawValue), what: "a video format"),
        "captions": .choice(CaptionStyle.allCases.map(\.rawValue), what: "a caption style"),
        "script": .choice(ChannelServices.Script.allCases.map(\.rawValue), what: "a script service"),
        "tts": .list(.choice(ChannelServices.TTS.allCases.map(\.rawValue), what: "a TTS engine")),
        "images": .choice(ChannelServices.Images.allCases.map(\.rawValue), what: "an image service"),
        "publisher": .choice(ChannelServices.Publisher.allCases.map(\.rawValue), what: "a publisher"),
        "schedule": .list(.text(problem: { expression in
            do { _ = try CronExpression(expression); return nil } catch { return "\(error)" }
        })),
        "time_zone": .text(problem: ChannelConfig.timeZoneProblem),
        "voice": .text(problem: { voice in
            EspeakVoice.named(voice) == nil
                ? "'\(voice)' is not a known voice; use one of \(EspeakVoice.known.joined(separator: ", "))" : nil
        }),
        "topics": .list(.any), "forbidden_topics": .list(.any),
        "priority": .whole(ConfigLimits.priority),
        "max_attempts": .whole(ConfigLimits.maxAttempts),
        "catch_up_window": .duration(ConfigLimits.catchUpWindow),
        "topic_recency_days": .whole(ConfigLimits.topicRecencyDays),
        "footage_reuse_days": .whole(ConfigLimits.footageReuseDays),
        "duplicate_sentences_percent": .whole(ConfigLimits.percent),
        "duplicate_thumbnail_bits": .whole(ConfigLimits.hashBits),
        "language": .text(problem: { Language.parse($0) == nil ? Language.problem($0) : nil }),
    ]))

    static let voices: ConfigSchema = .dictionary(
        keyName: "voice", validKey: { EspeakVoice.named($0) != nil }, value: .any)

    static let providers: ConfigSchema = .map(keys(ProvidersConfig.configKeys, [
        "openai": .map(keys(ProvidersConfig.OpenAI.configKeys, ["voices": voices])),
        "anthropic": .map(keys(ProvidersConfig.Anthropic.configKeys, [:])),
        "elevenlabs": .map(keys(ProvidersConfig.ElevenLabs.configKeys, ["voices": voices])),
        "stable_diffusion": .map(keys(ProvidersConfig.StableDiffusion.configKeys, [
            "steps": .whole(ConfigLimits.stableDiffusionSteps),
        ])),
        "pexels": .map(keys(ProvidersConfig.Pexels.configKeys, [:])),
        "pixabay": .map(keys(ProvidersConfig.Pixabay.configKeys, [:])),
        "youtube": .map(keys(ProvidersConfig.YouTube.configKeys, [
            "privacy_status": .choice(["private", "unlisted", "public"], what: "a privacy status"),
            "daily_quota": .whole(ConfigLimits.youtubeDailyQuota),
            "daily_uploads": .whole(ConfigLimits.youtubeDailyQuota),
            "upload_cost": .whole(ConfigLimits.youtubeCost),
            "thumbnail_cost": .whole(ConfigLimits.youtubeCost),
            "captions_cost": .whole(ConfigLimits.youtubeCost),
            "chunk_mib": .whole(ConfigLimits.youtubeChunkMiB),
            "publish_after_hours": .whole(ConfigLimits.publishAfterHours),
        ])),
    ]))

    /// Every key of `all` as `.any`, then the typed ones. A typed key that is not one of the type's
    /// keys is a programming error, caught by the tests (`ConfigSchemaTests`).
    static func keys(_ all: [String], _ typed: [String: ConfigSchema]) -> [String: ConfigSchema] {
        var out = Dictionary(uniqueKeysWithValues: all.map { ($0, ConfigSchema.any) })
        for (k, v) in typed { out[k] = v }
        return out
    }

    /// Every problem of `node` against this shape, in document order.
    func check(_ node: Node, path: [any Sendable] = []) -> [Problem] {
        var out: [Problem] = []
        walk(node, path, &out)
        return out
    }

    private func walk(_ node: Node, _ path: [any Sendable], _ out: inout [Problem]) {
        func problem(_ line: Int?, _ path: [any Sendable], _ message: String) {
            out.append(Problem(line: line, field: Self.field(path), message: message))
        }
        switch self {
        case .any:
            return
        case .whole(let range):
            guard case .scalar(let s) = node, !Self.isNull(s) else {
                if case .scalar = node { return }  // An empty value: the default applies, as for every key.
                return problem(node.mark?.line, path, "expected a whole number")
            }
            if case .failure(let p) = ConfigLimits.wholeNumber(s.string, in: range) {
                problem(node.mark?.line, path, p.message)
            }
        case .duration(let range):
            guard case .scalar(let s) = node, !Self.isNull(s) else {
                if case .scalar = node { return }
                return problem(node.mark?.line, path, "expected a duration such as 30m, 6h or 2d")
            }
            do { _ = try DurationText.parse(s.string, allowed: range) } catch {
                problem(node.mark?.line, path, "\(error)")
            }
        case .choice(let values, let what):
            guard case .scalar(let s) = node else { return problem(node.mark?.line, path, "expected \(what): one of \(values.joined(separator: ", "))") }
            guard !Self.isNull(s), !values.contains(s.string) else { return }
            problem(node.mark?.line, path, "'\(s.string)' is not \(what); use one of \(values.joined(separator: ", "))")
        case .text(let check):
            guard case .scalar(let s) = node else { return problem(node.mark?.line, path, "expected text") }
            guard !Self.isNull(s), let message = check(s.string) else { return }
            problem(node.mark?.line, path, message)
        case .list(let item, let what):
            // Named here, not left to decoding: decoding stops at a channel's first problem, so a
            // wrong shape hid the problems after it.
            guard case .sequence(let seq) = node else { return problem(node.mark?.line, path, "expected \(what)") }
            for (i, n) in seq.enumerated() { item.walk(n, path + [i], &out) }
        case .map(let known):
            guard case .mapping(let map) = node else { return problem(node.mark?.line, path, "expected \(Self.mapping)") }
            var seen: [String: Int?] = [:]
            for (k, v) in map {
                guard let key = k.string, !key.isEmpty else {
                    problem(k.mark?.line, path, "a key must be text")
                    continue
                }
                if key == "<<" { continue }  // A YAML merge key.
                if let first = seen[key] {
                    problem(k.mark?.line, path + [key], "the key '\(key)' is given twice (first at line \(first.map(String.init) ?? "?")); keep one")
                    continue
                }
                seen[key] = k.mark?.line
                guard let shape = known[key] else {
                    problem(k.mark?.line, path + [key], "unknown key '\(key)'; \(Self.suggestion(for: key, among: Array(known.keys)))")
                    continue
                }
                // `schedule:` with nothing after it would silently take the default.
                if case .scalar(let s) = v, Self.isNull(s) {
                    problem(k.mark?.line, path + [key], "the key '\(key)' has no value; give one, or leave the key out for the default")
                    continue
                }
                shape.walk(v, path + [key], &out)
            }
        case .dictionary(let keyName, let valid, let value):
            guard case .mapping(let map) = node else { return problem(node.mark?.line, path, "expected \(Self.mapping)") }
            var seen: [String: Int?] = [:]
            for (k, v) in map {
                let key = k.string ?? ""
                if let first = seen[key] {
                    problem(k.mark?.line, path + [key], "the key '\(key)' is given twice (first at line \(first.map(String.init) ?? "?")); keep one")
                    continue
                }
                seen[key] = k.mark?.line
                if !valid(key) {
                    problem(k.mark?.line, path + [key], "'\(key)' is not a known \(keyName); use one of \(EspeakVoice.known.joined(separator: ", "))")
                    continue
                }
                value.walk(v, path + [key], &out)
            }
        }
    }

    /// What a mapping and a list are, in the words of every message that expects one (decoding's too: ``AppConfig/kind(_:)``).
    static let mapping = "a mapping (key: value lines, or {k: v})"
    static let list = "a list (- item lines, or [a, b])"

    static func isNull(_ s: Node.Scalar) -> Bool {
        s.style == .plain && ["", "~", "null", "Null", "NULL"].contains(s.string)
    }

    /// "did you mean 'schedule'?" when a known key is within a few edits, else the known keys.
    static func suggestion(for key: String, among known: [String]) -> String {
        let scored = known.map { ($0, editDistance(key.lowercased(), $0)) }.sorted { ($0.1, $0.0) < ($1.1, $1.0) }
        if let best = scored.first, best.1 <= max(2, key.count / 3) {
            return "did you mean '\(best.0)'?"
        }
        return "known keys: \(known.sorted().joined(separator: ", "))"
    }

    /// Levenshtein distance over characters.
    static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous = Array(0...b.count)
        var current = previous
        for i in 1...a.count {
            current[0] = i
            for j in 1...b.count {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            swap(&previous, &current)
        }
        return previous[b.count]
    }

    /// `channels[0].duration.min`.
    static func field(_ keys: [any Sendable]) -> String {
        keys.reduce(into: "") { out, key in
            if let i = key as? Int { out += "[\(i)]" } else { out += (out.isEmpty ? "" : ".") + "\(key)" }
        }
    }
}
