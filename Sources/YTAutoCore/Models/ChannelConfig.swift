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

    public init(
        name: String, type: ChannelType, schedule: [String], timeZone: String,
        durationRange: DurationRange, voiceID: String, style: String, topics: [String],
        maxAttempts: Int = 3, priority: Int = 0
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
    }

    enum CodingKeys: String, CodingKey {
        case name, type, schedule, voice, style, topics, priority
        case timeZone = "time_zone"
        case durationRange = "duration"
        case maxAttempts = "max_attempts"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let name = try c.decode(String.self, forKey: .name)
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
        self.maxAttempts = try c.decodeIfPresent(Int.self, forKey: .maxAttempts) ?? d.maxAttempts
        self.priority = try c.decodeIfPresent(Int.self, forKey: .priority) ?? d.priority
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
    }

    /// Problems a configuration can have that decoding does not catch, as readable sentences.
    public func problems() -> [String] {
        var out: [String] = []
        if name.isEmpty || name.contains(where: { $0.isWhitespace }) {
            out.append("channel name '\(name)' must be non-empty and without spaces")
        }
        if durationRange.min <= 0 || durationRange.min > durationRange.max {
            out.append("channel '\(name)': duration min \(durationRange.min) and max \(durationRange.max) must satisfy 0 < min <= max")
        }
        for expr in schedule where expr.split(separator: " ", omittingEmptySubsequences: true).count != 5 {
            out.append("channel '\(name)': schedule '\(expr)' is not a 5-field cron expression (minute hour day-of-month month day-of-week)")
        }
        if maxAttempts < 1 { out.append("channel '\(name)': max_attempts must be at least 1") }
        if topics.isEmpty { out.append("channel '\(name)': topics must list at least one topic") }
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
                ])
        case .facts:
            ChannelConfig(
                name: "facts", type: .facts, schedule: ["0 18 * * 2,4,6"], timeZone: "UTC",
                durationRange: .init(min: 300, max: 480), voiceID: "en-bright",
                style: "upbeat, curious explainer; bright palette",
                topics: [
                    "why octopuses have three hearts", "the loudest sound ever recorded",
                    "how honey never spoils", "the shortest war in history",
                    "why the sky is blue at noon and red at dusk",
                ])
        case .finance:
            ChannelConfig(
                name: "finance", type: .finance, schedule: ["0 9 * * *"], timeZone: "UTC",
                durationRange: .init(min: 300, max: 600), voiceID: "en-calm",
                style: "calm, plain-spoken explainer with a disclaimer; navy and gold palette",
                topics: [
                    "compound interest in plain words", "what an index fund is",
                    "emergency funds: how much is enough", "inflation and your savings",
                    "the true cost of credit card debt",
                ])
        }
    }
}
