import Foundation

/// What the scheduler decided about one slot.
public struct SlotDecision: Sendable, Hashable {
    public enum Kind: String, Sendable, Hashable {
        /// A job was made.
        case enqueued
        /// The slot was past and the channel's policy (or the catch-up window) says not to run it.
        case missed
        /// Every topic was used within the channel's recency window.
        case noTopic = "no_topic"
        /// The channel was paused (``ChannelPause``): the slot makes no job, and is not made up later.
        case paused
    }

    public var channel: String
    public var slotAt: Date
    public var expression: String
    public var kind: Kind
    public var topic: String?
    public var jobID: Int64?
    public var detail: String?

    public init(channel: String, slotAt: Date, expression: String, kind: Kind, topic: String? = nil, jobID: Int64? = nil, detail: String? = nil) {
        self.channel = channel
        self.slotAt = slotAt
        self.expression = expression
        self.kind = kind
        self.topic = topic
        self.jobID = jobID
        self.detail = detail
    }
}

/// A row of `schedule_slots`, for `ytauto-admin slots`.
public struct SlotRecord: Sendable, Hashable {
    public var channel: String
    public var slotAt: Date
    public var expression: String
    public var decision: String
    public var topic: String?
    public var jobID: Int64?
    public var decidedAt: Date
    public var detail: String?

    public init(channel: String, slotAt: Date, expression: String, decision: String, topic: String?, jobID: Int64?, decidedAt: Date, detail: String?) {
        self.channel = channel
        self.slotAt = slotAt
        self.expression = expression
        self.decision = decision
        self.topic = topic
        self.jobID = jobID
        self.decidedAt = decidedAt
        self.detail = detail
    }
}

/// The scheduler's rules, the same for every store engine: which slots of a pass fire, which of
/// them run (the missed-slot policy and the catch-up window), and which topic a new job takes.
/// Pure functions; an engine supplies what it read (the cursor, when each topic was last used)
/// and records what these decide.
public enum SchedulingRules {
    /// A slot due within this long of now is on time; older ones are *missed* and follow the
    /// channel's ``MissedSlotPolicy``. Schedulers look at least every few seconds, so two minutes
    /// leaves room.
    public static let onTimeTolerance: TimeInterval = 120

    /// Where a channel's first look starts when no scheduler has seen it: a new channel does not
    /// backfill its past.
    public static func firstCursor(now: Date) -> Date { now.addingTimeInterval(-onTimeTolerance) }

    /// Every firing instant of `expressions` in `(cursor, now]` in `zone`, once even if two
    /// expressions fire together (the first expression listed names it), oldest first; at most
    /// the oldest `limit` of each expression.
    public static func firings(of expressions: [CronExpression], after cursor: Date, through now: Date,
                               in zone: TimeZone, limit: Int = 1_000_000) -> [(at: Date, expression: String)] {
        firings(of: expressions.map { ($0, cursor) }, through: now, in: zone, limit: limit)
    }

    /// The same, each expression from its own cursor.
    static func firings(of schedule: [(expression: CronExpression, after: Date)], through now: Date,
                        in zone: TimeZone, limit: Int = 1_000_000) -> [(at: Date, expression: String)] {
        var fires: [Date: String] = [:]
        for (e, cursor) in schedule {
            for t in e.fireTimes(after: cursor, through: now, in: zone, limit: limit) where fires[t] == nil {
                fires[t] = e.text
            }
        }
        return fires.keys.sorted().map { ($0, fires[$0]!) }
    }

    /// Slots older than the catch-up window listed one by one in a pass, at most (they are all
    /// missed): a channel down for months on a minute's schedule must not write millions of rows.
    public static let maxListedOld = 10_000

    /// Where each schedule entry's pass starts: its own cursor; for an entry without one, the
    /// channel's cursor when no entry of the channel has one yet (a database from before entries
    /// had cursors: the channel's covered its schedule then), else the first look of a new
    /// entry, which does not backfill its past (``firstCursor(now:)``).
    public static func cursors(of expressions: [CronExpression], stored: [String: Date], channelCursor: Date?, now: Date) -> [Date] {
        expressions.map { e in
            stored[e.text] ?? (stored.isEmpty ? channelCursor : nil) ?? firstCursor(now: now)
        }
    }

    /// The verdicts of one pass over each entry's `(cursor, now]` (``verdicts(for:channel:now:)``),
    /// an instant once even if two entries fire at it (the first listed names it). Every slot
    /// within the catch-up window is listed, since each may run, and the one on time always is;
    /// of the older ones, all missed, the oldest ``maxListedOld`` are, the last of them saying
    /// that the later ones up to the window were not listed one by one.
    public static func verdicts(of schedule: [(expression: CronExpression, after: Date)], through now: Date,
                                in zone: TimeZone, channel: ChannelConfig) -> [SlotDecision] {
        let windowStart = now.addingTimeInterval(-Double(channel.catchUpWindow))
        // A firing at windowStart is within the window; cron's are whole minutes, so half a millisecond parts them.
        let edge = windowStart.addingTimeInterval(-0.000_5)
        let old = firings(of: schedule.filter { $0.after < edge }, through: edge, in: zone, limit: maxListedOld + 1)
        let recent = firings(of: schedule.map { ($0.expression, max($0.after, edge)) }, through: now, in: zone)
        var decisions = verdicts(for: Array(old.prefix(maxListedOld)) + recent, channel: channel, now: now)
        if old.count > maxListedOld {
            decisions[maxListedOld - 1].detail = (decisions[maxListedOld - 1].detail ?? "")
                + "; more slots after it up to \(Timestamp.string(windowStart)), older than the window too, are not listed one by one (over \(maxListedOld) in one pass)"
        }
        return decisions
    }

    /// The verdict on each firing of a pass: `.enqueued` (it should run; its topic is chosen
    /// next, and may turn it into `.noTopic`) or `.missed` with the reason. Slots older than the
    /// catch-up window are missed; late slots within it follow the channel's policy: `all` runs
    /// each, `skip` none, `latest` only the newest late one, and none if an on-time slot exists.
    public static func verdicts(for firings: [(at: Date, expression: String)], channel: ChannelConfig, now: Date) -> [SlotDecision] {
        let windowStart = now.addingTimeInterval(-Double(channel.catchUpWindow))
        let onTimeFrom = now.addingTimeInterval(-onTimeTolerance)
        let anyOnTime = firings.contains { $0.at >= onTimeFrom }
        let newestLate = firings.last { $0.at < onTimeFrom && $0.at >= windowStart }?.at
        return firings.map { f in
            var decision = SlotDecision(channel: channel.name, slotAt: f.at, expression: f.expression, kind: .enqueued)
            // A slot on time always runs, whatever the window (`catch_up_window: 0s` means no catching up).
            if f.at >= onTimeFrom { return decision }
            if f.at < windowStart {
                decision.kind = .missed
                decision.detail = "older than catch_up_window \(DurationText.string(seconds: channel.catchUpWindow))"
            } else {
                switch channel.missedSlots {
                case .all: break
                case .skip:
                    decision.kind = .missed
                    decision.detail = "missed_slots: skip"
                case .latest where anyOnTime || f.at != newestLate:
                    decision.kind = .missed
                    decision.detail = "missed_slots: latest (a newer slot runs)"
                case .latest: break
                }
            }
            return decision
        }
    }

    /// The verdicts of a paused channel's pass: every slot that would have run is `paused`
    /// instead (missed ones stay missed, with their reason). A resumed channel does not make up
    /// the slots of its pause: they were decided, as a pause asks.
    public static func paused(_ verdicts: [SlotDecision], by pause: ChannelPause?) -> [SlotDecision] {
        guard let pause else { return verdicts }
        return verdicts.map { v in
            guard v.kind == .enqueued else { return v }
            var p = v
            p.kind = .paused
            p.detail = pause.slotDetail
            return p
        }
    }

    /// Why a slot that should run has no topic.
    public static func noTopicDetail(_ channel: ChannelConfig) -> String {
        "every topic was used within \(channel.topicRecencyDays) days; add topics or lower topic_recency_days"
    }

    /// The topic for a new job: one not used within `recencyDays` of `now` (0: any), never-used
    /// topics first in list order, then the one used longest ago; nil if every topic is recent.
    /// `lastUse` is when each topic was last used by the channel (slots and jobs alike).
    ///
    /// `pickedBefore` are the topics this pass already gave its earlier slots, in order: their
    /// slots were all decided at `now`, so their times tie, and the one picked earlier counts as
    /// used longer ago (a catch-up pass with `topic_recency_days: 0` goes a, b, c, a, b, c, not
    /// a, b, c, a, a, a).
    public static func pickTopic(_ topics: [String], lastUse: [String: Date], recencyDays: Int, now: Date,
                                 pickedBefore: [String] = []) -> String? {
        let cutoff = now.addingTimeInterval(-Double(recencyDays) * 86_400)
        let eligible = topics.filter { topic in
            guard let last = lastUse[topic] else { return true }
            return recencyDays == 0 || last < cutoff
        }
        func order(_ topic: String) -> (Date, Int) {
            (lastUse[topic] ?? .distantPast, pickedBefore.lastIndex(of: topic) ?? -1)
        }
        return eligible.min { order($0) < order($1) }
    }

    /// The topic `ytauto enqueue` takes when none is given: as the scheduler picks, but when every
    /// topic is recent still the one used longest ago (the operator asked for a job), with
    /// `recent` saying so. Nil only for a channel without topics.
    public static func suggestTopic(_ topics: [String], lastUse: [String: Date], recencyDays: Int, now: Date) -> (topic: String, recent: Bool)? {
        if let t = pickTopic(topics, lastUse: lastUse, recencyDays: recencyDays, now: now) { return (t, false) }
        guard let t = topics.min(by: { (lastUse[$0] ?? .distantPast) < (lastUse[$1] ?? .distantPast) }) else { return nil }
        return (t, true)
    }

    /// ``suggestTopic(_:lastUse:recencyDays:now:)`` for `channel`, from when its topics were last
    /// used; throws for a channel without topics. What every engine's enqueue without a topic takes.
    public static func suggestTopic(for channel: ChannelConfig, lastUse: [String: Date], now: Date) throws(JobStoreError) -> (topic: String, recent: Bool) {
        guard let suggestion = suggestTopic(channel.topics, lastUse: lastUse, recencyDays: channel.topicRecencyDays, now: now) else {
            throw .invalidArgument("channel \(channel.name) has no topics")
        }
        return suggestion
    }
}
