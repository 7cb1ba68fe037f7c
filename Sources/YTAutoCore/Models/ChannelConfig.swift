import Foundation

/// One channel's configuration: the seed's `ChannelConfig(name, schedule, durationRange, voiceID, …)`.
///
/// Read from the `channels:` list of `ytauto.yaml`. Keys are snake_case there
/// (`time_zone`, `duration`, `voice`, `max_attempts`); anything left out takes the
/// default of the channel's ``ChannelType`` (see ``ChannelConfig/defaults(for:)``).
public struct ChannelConfig: Sendable, Codable, Hashable {
    /// The seconds a finished video should last, inclusive.
    public struct DurationRange: Sendable, Codable, Hashable {
        public var min: Int
        public var max: Int
        public init(min: Int, max: Int) {
            self.min = min
            self.max = max
        }

        enum CodingKeys: String, CodingKey, CaseIterable { case min, max }
        /// The keys `duration:` takes (unknown ones are refused, see AppConfig).
        public static let configKeys = CodingKeys.allCases.map(\.stringValue)

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            guard let min = try c.decodeWholeNumber(forKey: .min, in: ConfigLimits.videoSeconds) else {
                throw DecodingError.keyNotFound(CodingKeys.min, .init(codingPath: c.codingPath, debugDescription: "duration needs min"))
            }
            guard let max = try c.decodeWholeNumber(forKey: .max, in: ConfigLimits.videoSeconds) else {
                throw DecodingError.keyNotFound(CodingKeys.max, .init(codingPath: c.codingPath, debugDescription: "duration needs max"))
            }
            self.min = min
            self.max = max
        }
    }

    public var name: String
    public var type: ChannelType
    /// 5-field cron expressions, evaluated in ``timeZone``.
    public var schedule: [String]
    /// An IANA time zone identifier, such as `America/New_York`.
    public var timeZone: String
    public var durationRange: DurationRange
    public var voiceID: String
    public var style: String
    public var topics: [String]
    /// Attempts a job of this channel gets before it fails for good (the seed's max_retries 3).
    public var maxAttempts: Int
    /// Lower runs first.
    public var priority: Int
    /// What the scheduler does with slots it finds in the past (it was down, or just started).
    public var missedSlots: MissedSlotPolicy
    /// How far back missed slots are still considered, in seconds (config: `catch_up_window: 6h`).
    public var catchUpWindow: Int
    /// A topic used on this channel within this many days is not picked again.
    public var topicRecencyDays: Int
    /// 9:16 short (1080×1920) or 16:9 long-form (1920×1080).
    public var format: VideoFormat
    /// Words or phrases a script of this channel must not contain (checked by the validator).
    public var forbiddenTopics: [String]
    /// Which service makes the script, the voice, the images, and publishes (offline by default).
    public var services = ChannelServices()
    /// Whether each job stops before publishing until an operator approves it (`ytauto-admin
    /// approve|reject`, the console's review page). No worker is held meanwhile. Default false.
    public var review = false
    /// How captions are burned in (config: `captions: words|line|sentences`); `nil` takes the
    /// format's default (``captions``).
    public var captionStyle: CaptionStyle?
    /// A folder of the operator's own pictures, clips and music (config: `media_library: PATH`,
    /// relative to the working directory like `work_dir`). When set, the channel's scenes and
    /// music come from it unless `images:` names another source.
    public var mediaLibrary: String?
    /// Days before a stock clip or photo (Pexels, Pixabay) may appear again on this channel
    /// (config: `footage_reuse_days`, default 30; 0 lets it). What was used is in `footage_uses`.
    public var footageReuseDays = 30
    /// A script that repeats this share (percent) of its sentences from one of the channel's
    /// recent scripts is a near-duplicate and fails `video.near_duplicate` (config:
    /// `duplicate_sentences_percent`, default 60; 0 turns the check off).
    public var duplicateSentencesPercent = 60
    /// A thumbnail whose difference hash is within this many bits (of 64) of a recent one's is a
    /// near-duplicate (config: `duplicate_thumbnail_bits`, default 3; 0 turns the check off).
    public var duplicateThumbnailBits = 3
    /// The BCP-47 tag of what the channel speaks (config: `language`, default `en`): see ``Language``.
    public var language = "en"
    /// ``language`` as ytauto knows it; English for a tag it does not (the configuration check refuses those).
    public var spokenLanguage: Language { Language.parse(language) ?? .english }

    /// The caption style in use: the configured one, else `words` for shorts and `line` for long videos.
    public var captions: CaptionStyle { captionStyle ?? (format == .short ? .words : .line) }

    public init(
        name: String, type: ChannelType, schedule: [String], timeZone: String,
        durationRange: DurationRange, voiceID: String, style: String, topics: [String],
        maxAttempts: Int = 3, priority: Int = 0, missedSlots: MissedSlotPolicy = .latest,
        catchUpWindow: Int = 6 * 3600, topicRecencyDays: Int = 7, format: VideoFormat = .long,
        forbiddenTopics: [String] = []
    ) {
        self.name = name
        self.type = type
        self.schedule = schedule
        self.timeZone = timeZone
        self.durationRange = durationRange
        self.voiceID = voiceID
        self.style = style
        self.topics = topics
        self.maxAttempts = maxAttempts
        self.priority = priority
        self.missedSlots = missedSlots
        self.catchUpWindow = catchUpWindow
        self.topicRecencyDays = topicRecencyDays
        self.format = format
        self.forbiddenTopics = forbiddenTopics
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case name, type, schedule, voice, style, topics, priority
        case timeZone = "time_zone"
        case durationRange = "duration"
        case maxAttempts = "max_attempts"
        case missedSlots = "missed_slots"
        case catchUpWindow = "catch_up_window"
        case topicRecencyDays = "topic_recency_days"
        case format
        case forbiddenTopics = "forbidden_topics"
        case script, tts, images, publisher
        case review
        case captions
        case mediaLibrary = "media_library"
        case footageReuseDays = "footage_reuse_days"
        case duplicateSentencesPercent = "duplicate_sentences_percent"
        case duplicateThumbnailBits = "duplicate_thumbnail_bits"
        case language
    }

    /// The keys a channel takes (unknown ones are refused, see AppConfig).
    public static let configKeys = CodingKeys.allCases.map(\.stringValue)

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let name = Self.canonicalName(try c.decode(String.self, forKey: .name))
        let type = try c.decodeIfPresent(ChannelType.self, forKey: .type)
            ?? ChannelType(rawValue: name)
            ?? { throw DecodingError.dataCorruptedError(
                forKey: .type, in: c,
                debugDescription: "channel '\(name)' needs a type: one of \(ChannelType.allCases.map(\.rawValue).joined(separator: ", "))")
            }()
        let d = ChannelConfig.defaults(for: type)
        self.name = name
        self.type = type
        self.schedule = try c.decodeIfPresent([String].self, forKey: .schedule) ?? d.schedule
        self.timeZone = try c.decodeIfPresent(String.self, forKey: .timeZone) ?? d.timeZone
        self.durationRange = try c.decodeIfPresent(DurationRange.self, forKey: .durationRange) ?? d.durationRange
        self.voiceID = try c.decodeIfPresent(String.self, forKey: .voice) ?? d.voiceID
        self.style = try c.decodeIfPresent(String.self, forKey: .style) ?? d.style
        self.topics = try c.decodeIfPresent([String].self, forKey: .topics) ?? d.topics
        self.maxAttempts = try c.decodeWholeNumber(forKey: .maxAttempts, in: ConfigLimits.maxAttempts) ?? d.maxAttempts
        self.priority = try c.decodeWholeNumber(forKey: .priority, in: ConfigLimits.priority) ?? d.priority
        self.missedSlots = try c.decodeIfPresent(MissedSlotPolicy.self, forKey: .missedSlots) ?? d.missedSlots
        if let text = try c.decodeIfPresent(String.self, forKey: .catchUpWindow) {
            do {
                self.catchUpWindow = Int(try DurationText.parse(text, allowed: ConfigLimits.catchUpWindow))
            } catch let problem as DurationText.Problem {
                throw DecodingError.dataCorruptedError(forKey: .catchUpWindow, in: c, debugDescription: problem.message)
            }
        } else {
            self.catchUpWindow = d.catchUpWindow
        }
        self.topicRecencyDays = try c.decodeWholeNumber(forKey: .topicRecencyDays, in: ConfigLimits.topicRecencyDays) ?? d.topicRecencyDays
        self.format = try c.decodeIfPresent(VideoFormat.self, forKey: .format) ?? d.format
        self.forbiddenTopics = try c.decodeIfPresent([String].self, forKey: .forbiddenTopics) ?? d.forbiddenTopics
        self.services.script = try c.decodeIfPresent(ChannelServices.Script.self, forKey: .script) ?? .template
        self.services.tts = try c.decodeIfPresent([ChannelServices.TTS].self, forKey: .tts) ?? [.espeak]
        self.mediaLibrary = try c.decodeIfPresent(String.self, forKey: .mediaLibrary)
        self.services.images = try c.decodeIfPresent(ChannelServices.Images.self, forKey: .images)
            ?? (mediaLibrary == nil ? .procedural : .library)
        self.services.publisher = try c.decodeIfPresent(ChannelServices.Publisher.self, forKey: .publisher) ?? .local
        self.review = try c.decodeIfPresent(Bool.self, forKey: .review) ?? false
        self.captionStyle = try c.decodeIfPresent(CaptionStyle.self, forKey: .captions)
        self.footageReuseDays = try c.decodeWholeNumber(forKey: .footageReuseDays, in: ConfigLimits.footageReuseDays) ?? footageReuseDays
        self.duplicateSentencesPercent = try c.decodeWholeNumber(forKey: .duplicateSentencesPercent, in: ConfigLimits.percent)
            ?? duplicateSentencesPercent
        self.duplicateThumbnailBits = try c.decodeWholeNumber(forKey: .duplicateThumbnailBits, in: ConfigLimits.hashBits) ?? duplicateThumbnailBits
        self.language = try c.decodeIfPresent(String.self, forKey: .language) ?? language
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(name, forKey: .name)
        try c.encode(type, forKey: .type)
        try c.encode(schedule, forKey: .schedule)
        try c.encode(timeZone, forKey: .timeZone)
        try c.encode(durationRange, forKey: .durationRange)
        try c.encode(voiceID, forKey: .voice)
        try c.encode(style, forKey: .style)
        try c.encode(topics, forKey: .topics)
        try c.encode(maxAttempts, forKey: .maxAttempts)
        try c.encode(priority, forKey: .priority)
        try c.encode(missedSlots, forKey: .missedSlots)
        try c.encode(DurationText.string(seconds: catchUpWindow), forKey: .catchUpWindow)
        try c.encode(topicRecencyDays, forKey: .topicRecencyDays)
        try c.encode(format, forKey: .format)
        try c.encode(forbiddenTopics, forKey: .forbiddenTopics)
        try c.encode(services.script, forKey: .script)
        try c.encode(services.tts, forKey: .tts)
        try c.encode(services.images, forKey: .images)
        try c.encode(services.publisher, forKey: .publisher)
        try c.encode(review, forKey: .review)
        try c.encodeIfPresent(captionStyle, forKey: .captions)
        try c.encodeIfPresent(mediaLibrary, forKey: .mediaLibrary)
        try c.encode(footageReuseDays, forKey: .footageReuseDays)
        try c.encode(duplicateSentencesPercent, forKey: .duplicateSentencesPercent)
        try c.encode(duplicateThumbnailBits, forKey: .duplicateThumbnailBits)
        try c.encode(language, forKey: .language)
    }

    /// A problem decoding does not catch, with the configuration key it is about.
    public struct Problem: Sendable, Hashable {
        /// The key in the channel's mapping (`schedule`, `duration`, …).
        public var field: String
        public var message: String
        /// For a list field, the item's index.
        public var index: Int?
        public init(field: String, message: String, index: Int? = nil) {
            self.field = field
            self.message = message
            self.index = index
        }
    }

    /// A channel's name as ytauto keeps it: in Unicode's composed form (NFC), whatever form it was
    /// typed or saved in. Swift's strings compare canonically equivalent forms equal and SQLite
    /// compares bytes, so "café" typed decomposed made a second channel in the database that
    /// `status` (counting in a Swift dictionary) folded into the first, and a pause of one held both.
    public static func canonicalName(_ name: String) -> String { name.precomposedStringWithCanonicalMapping }

    /// Why `name` cannot name a channel, or nil when it can. A channel's name is a folder's name
    /// under `output_dir` and `work_dir` (and what `prune --with-output` removes), so it is 1 to
    /// 64 letters, digits, `-`, `_` and `.`, not starting with a dot: never a path (`/`, `..`)
    /// that would reach outside them.
    public static func nameProblem(_ name: String) -> String? {
        let allowed = name.allSatisfy { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" || $0 == "." }
        guard ConfigLimits.channelNameCharacters.contains(name.count), allowed, !name.hasPrefix(".") else {
            return "channel name '\(name.prefix(80))' must be 1 to \(ConfigLimits.channelNameCharacters.upperBound) letters, digits, "
                + "'-', '_' or '.', not starting with '.' (it names the channel's folders under output_dir and work_dir)"
        }
        return nil
    }

    /// Why `topic` cannot be a video's topic, or nil when it can: it must say something (not
    /// blank) and fit a title and a prompt (``ConfigLimits/topicCharacters``).
    public static func topicProblem(_ topic: String) -> String? {
        let trimmed = topic.trimmingCharacters(in: .whitespacesAndNewlines)
        if trimmed.isEmpty { return "a topic must not be blank" }
        if !ConfigLimits.topicCharacters.contains(topic.count) {
            return "a topic of \(topic.count) characters is out of range: allowed \(ConfigLimits.describe(ConfigLimits.topicCharacters))"
        }
        // It becomes the title, the captions and a folder's name: one line of visible text.
        if let hidden = TextControls.firstInLine(topic) {
            return "a topic must be one line of visible text; it has \(TextControls.describe(hidden))"
        }
        return nil
    }

    /// Problems a configuration can have that decoding does not catch.
    public func problems() -> [Problem] {
        var out: [Problem] = []
        if let problem = Self.nameProblem(name) { out.append(.init(field: "name", message: problem)) }
        for (i, topic) in topics.enumerated() {
            if let problem = Self.topicProblem(topic) { out.append(.init(field: "topics", message: problem, index: i)) }
        }
        if durationRange.min <= 0 || durationRange.min > durationRange.max {
            out.append(.init(field: "duration", message: "min \(durationRange.min) and max \(durationRange.max) must satisfy 0 < min <= max"))
        }
        if schedule.isEmpty {
            out.append(.init(field: "schedule", message: "needs at least one cron expression (or leave the key out for the defaults)"))
        }
        for (i, expr) in schedule.enumerated() {
            do { _ = try CronExpression(expr) } catch {
                out.append(.init(field: "schedule", message: "\(error)", index: i))
            }
        }
        if let problem = Self.timeZoneProblem(timeZone) {
            out.append(.init(field: "time_zone", message: problem))
        }
        if !ConfigLimits.maxAttempts.contains(maxAttempts) {
            out.append(.init(field: "max_attempts", message: "\(maxAttempts) is out of range: allowed \(ConfigLimits.describe(ConfigLimits.maxAttempts))"))
        }
        if !ConfigLimits.priority.contains(priority) {
            out.append(.init(field: "priority", message: "\(priority) is out of range: allowed \(ConfigLimits.describe(ConfigLimits.priority))"))
        }
        if durationRange.max > ConfigLimits.videoSeconds.upperBound {
            out.append(.init(field: "duration", message: "max \(durationRange.max) is out of range: allowed \(ConfigLimits.describe(ConfigLimits.videoSeconds))"))
        }
        if topics.isEmpty { out.append(.init(field: "topics", message: "must list at least one topic")) }
        if !ConfigLimits.catchUpWindow.contains(Double(catchUpWindow)) {
            out.append(.init(field: "catch_up_window", message: "\(catchUpWindow)s is out of range: allowed \(DurationText.describe(ConfigLimits.catchUpWindow))"))
        }
        if !ConfigLimits.topicRecencyDays.contains(topicRecencyDays) {
            out.append(.init(field: "topic_recency_days", message: "\(topicRecencyDays) is out of range: allowed \(ConfigLimits.describe(ConfigLimits.topicRecencyDays))"))
        }
        if services.tts.isEmpty { out.append(.init(field: "tts", message: "needs at least one engine, e.g. [espeak]")) }
        if services.images == .library && mediaLibrary == nil {
            out.append(.init(field: "images", message: "library needs media_library: PATH, the folder of the channel's pictures, clips and music"))
        }
        if Language.parse(language) == nil {
            out.append(.init(field: "language", message: Language.problem(language)))
        } else if spokenLanguage != .english && services.script == .template {
            out.append(.init(field: "language", message: "\(spokenLanguage.name) needs script: openai or anthropic (the template writer writes English only)"))
        }
        if let font = Language.parse(language)?.font, !FileManager.default.fileExists(atPath: font.file) {
            out.append(.init(field: "language", message: "\(spokenLanguage.name) is drawn with \(font.family) (\(font.file)), which is not installed: "
                             + "install \(font.package) (bash .ci/deps installs it)"))
        }
        if let mediaLibrary {
            var isFolder: ObjCBool = false
            if !FileManager.default.fileExists(atPath: mediaLibrary, isDirectory: &isFolder) || !isFolder.boolValue {
                out.append(.init(field: "media_library", message: "'\(mediaLibrary)' is not a folder"))
            }
        }
        return out
    }

    /// The original system's defaults per channel type.
    public static func defaults(for type: ChannelType) -> ChannelConfig {
        switch type {
        case .horror:
            ChannelConfig(
                name: "horror", type: .horror, schedule: ["0 18 * * 1,3,5"], timeZone: "UTC",
                durationRange: .init(min: 480, max: 720), voiceID: "en-deep",
                style: "slow, suspenseful first-person storytelling; dark palette",
                topics: [
                    "the abandoned lighthouse keeper's log", "a voicemail from a dead friend",
                    "the night shift at a closed hospital", "the house that added a room",
                    "a campsite that was never on the map",
                ], forbiddenTopics: ["real victims", "self-harm instructions"])
        case .facts:
            ChannelConfig(
                name: "facts", type: .facts, schedule: ["0 18 * * 2,4,6"], timeZone: "UTC",
                durationRange: .init(min: 300, max: 480), voiceID: "en-bright",
                style: "upbeat, curious explainer; bright palette",
                topics: [
                    "why octopuses have three hearts", "the loudest sound ever recorded",
                    "how honey never spoils", "the shortest war in history",
                    "why the sky is blue at noon and red at dusk",
                ], forbiddenTopics: ["medical advice"])
        case .finance:
            ChannelConfig(
                name: "finance", type: .finance, schedule: ["0 9 * * *"], timeZone: "UTC",
                durationRange: .init(min: 300, max: 600), voiceID: "en-calm",
                style: "calm, plain-spoken explainer with a disclaimer; navy and gold palette",
                topics: [
                    "compound interest in plain words", "what an index fund is",
                    "emergency funds: how much is enough", "inflation and your savings",
                    "the true cost of credit card debt", "how a budget actually works",
                    "what a credit score measures", "bonds versus stocks", "dollar-cost averaging",
                    "fees that quietly eat your returns",
                ], forbiddenTopics: ["guaranteed returns", "get rich quick", "insider tip"])
        }
    }
}

extension ChannelConfig {
    /// The 45–60 s, 9:16 variant of a channel type's defaults (`horror-shorts`, …).
    public static func shorts(of type: ChannelType) -> ChannelConfig {
        var c = defaults(for: type)
        c.name = "\(type.rawValue)-shorts"
        c.format = .short
        c.durationRange = .init(min: 45, max: 60)
        return c
    }
}

/// How a channel's captions are burned into its videos.
public enum CaptionStyle: String, Sendable, Codable, Hashable, CaseIterable {
    /// One to three words at a time, the spoken word highlighted, large, in the middle (the shorts default).
    case words
    /// The sentence as a line at the bottom, the spoken word highlighted (the long-form default).
    case line
    /// The sentence as a plain line at the bottom.
    case sentences
}

/// The picture format of a channel's videos.
public enum VideoFormat: String, Sendable, Codable, Hashable, CaseIterable {
    /// 9:16, 1080×1920.
    case short
    /// 16:9, 1920×1080.
    case long

    public var width: Int { self == .short ? 1080 : 1920 }
    public var height: Int { self == .short ? 1920 : 1080 }
    public static let framesPerSecond = 30
}

/// What the scheduler does with slots that are already past when it looks (it was stopped, or
/// the host slept). Slots older than the channel's `catch_up_window` are always recorded as missed.
public enum MissedSlotPolicy: String, Sendable, Codable, Hashable, CaseIterable {
    /// Missed slots become no job; only on-time slots run.
    case skip
    /// The newest missed slot runs; older ones are recorded as missed.
    case latest
    /// Every missed slot within the window runs.
    case all
}

extension ChannelConfig {
    /// Why `zone` is not a `time_zone` a channel can have, or nil. Besides names Foundation does
    /// not know, its own `GMT+5` / `UTC-0300` forms are refused: they are not IANA names, and
    /// they mean the opposite of the IANA and POSIX `Etc/GMT+5` (UTC−5), so a schedule written
    /// with one would run hours off from what its author read.
    public static func timeZoneProblem(_ zone: String) -> String? {
        guard let tz = TimeZone(identifier: zone) else { return "'\(zone)' is not an IANA time zone such as America/New_York" }
        if zone.wholeMatch(of: #/(?i)(GMT|UTC)[+-].*/#) != nil, tz.secondsFromGMT() != 0 {
            let seconds = tz.secondsFromGMT(), h = seconds / 3600, m = abs(seconds) % 3600 / 60
            let offset = "UTC" + (seconds > 0 ? "+" : "−") + "\(abs(h))" + (m == 0 ? "" : String(format: ":%02d", m))
            let etc = m == 0 ? ", or Etc/GMT" + (h > 0 ? "-\(h)" : "+\(-h)") + " for a fixed offset" : ""
            return "'\(zone)' is not an IANA time zone (Foundation reads it as \(offset), where IANA's Etc/GMT+N means UTC−N); "
                + "write a place such as America/New_York\(etc)"
        }
        return nil
    }
}
