import Foundation
import YTAutoCore

/// What the scheduler decided about one slot.
public struct SlotDecision: Sendable, Hashable {
    public enum Kind: String, Sendable, Hashable {
        /// A job was made.
        case enqueued
        /// The slot was past and the channel's policy (or the catch-up window) says not to run it.
        case missed
        /// Every topic was used within the channel's recency window.
        case noTopic = "no_topic"
    }

    public var channel: String
    public var slotAt: Date
    public var expression: String
    public var kind: Kind
    public var topic: String?
    public var jobID: Int64?
    public var detail: String?
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
}

extension SQLiteJobStore {
    /// A slot due within this long of now is on time; older ones are *missed* and follow the channel's
    /// ``MissedSlotPolicy``. Schedulers look at least every few seconds, so two minutes leaves room.
    public static let onTimeTolerance: TimeInterval = 120

    /// Decides every slot of `channel` from where the last scheduler stopped looking up to `now`,
    /// in one write transaction: each slot is a row of `schedule_slots` (primary key channel + instant),
    /// so however many schedulers run, a slot becomes at most one job.
    ///
    /// The first time a channel is seen, slots from `now - onTimeTolerance` are considered: a new
    /// channel does not backfill its past.
    public func schedule(_ channel: ChannelConfig, now: Date? = nil) async throws -> [SlotDecision] {
        let now = now ?? self.now()
        guard let zone = TimeZone(identifier: channel.timeZone) else {
            throw JobStoreError.invalidArgument("channel \(channel.name): time zone '\(channel.timeZone)' is unknown")
        }
        let expressions = try channel.schedule.map { try CronExpression($0) }
        let decisions: [SlotDecision] = try await database.write { db in
            let cursor = try db.queryOne(
                "SELECT evaluated_until FROM schedule_cursors WHERE channel = ?", [channel.name])?.date("evaluated_until")
                ?? now.addingTimeInterval(-Self.onTimeTolerance)
            guard cursor < now else { return [] }
            // Every firing instant in (cursor, now], once even if two expressions fire together.
            var fires: [Date: String] = [:]
            for e in expressions {
                for t in e.fireTimes(after: cursor, through: now, in: zone, limit: 10_000) where fires[t] == nil {
                    fires[t] = e.text
                }
            }
            let instants = fires.keys.sorted()
            let windowStart = now.addingTimeInterval(-Double(channel.catchUpWindow))
            let onTimeFrom = now.addingTimeInterval(-Self.onTimeTolerance)
            let anyOnTime = instants.contains { $0 >= onTimeFrom }
            let newestLate = instants.last { $0 < onTimeFrom && $0 >= windowStart }
            var decisions: [SlotDecision] = []
            for t in instants {
                var decision = SlotDecision(channel: channel.name, slotAt: t, expression: fires[t]!, kind: .enqueued)
                if t < windowStart {
                    decision.kind = .missed
                    decision.detail = "older than catch_up_window \(DurationText.string(seconds: channel.catchUpWindow))"
                } else if t < onTimeFrom {
                    switch channel.missedSlots {
                    case .all: break
                    case .skip:
                        decision.kind = .missed
                        decision.detail = "missed_slots: skip"
                    case .latest where anyOnTime || t != newestLate:
                        decision.kind = .missed
                        decision.detail = "missed_slots: latest (a newer slot runs)"
                    case .latest: break
                    }
                }
                if decision.kind == .enqueued {
                    decision.topic = try Self.pickTopic(db, channel, now: now)
                    if decision.topic == nil {
                        decision.kind = .noTopic
                        decision.detail = "every topic was used within \(channel.topicRecencyDays) days; add topics or lower topic_recency_days"
                    }
                }
                let inserted = try db.queryOne("""
                    INSERT INTO schedule_slots (channel, slot_at, expression, decision, topic, decided_at, detail)
                    VALUES (?, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT (channel, slot_at) DO NOTHING
                    RETURNING slot_at
                    """, [channel.name, t, decision.expression, decision.kind.rawValue, decision.topic, now, decision.detail])
                guard inserted != nil else { continue }  // Another scheduler decided it first.
                if decision.kind == .enqueued {
                    let slot = Timestamp.string(t)
                    let result = try Self.insert(db, NewJob(
                        channel: channel.name, topic: decision.topic, options: ["slot_at": slot, "cron": decision.expression],
                        priority: channel.priority, runAt: t, maxAttempts: channel.maxAttempts,
                        uniqueKey: "slot:\(channel.name):\(slot)"), now: now)
                    decision.jobID = result.job.id
                    try db.run("UPDATE schedule_slots SET job_id = ? WHERE channel = ? AND slot_at = ?", [result.job.id, channel.name, t])
                }
                decisions.append(decision)
            }
            try db.run("""
                INSERT INTO schedule_cursors (channel, evaluated_until) VALUES (?, ?)
                ON CONFLICT (channel) DO UPDATE SET evaluated_until = max(evaluated_until, excluded.evaluated_until)
                """, [channel.name, now])
            return decisions
        }
        if decisions.contains(where: { $0.kind == .enqueued }) { database.signalWork() }
        return decisions
    }

    /// Where the schedulers stopped looking for `channel` (every slot up to it is decided), or nil
    /// when no scheduler has seen it. The cursor only moves forward: ``schedule(_:now:)`` keeps the
    /// later of the stored and the new instant, so a replay of a past window never moves it back.
    public func scheduleCursor(channel: String) async throws -> Date? {
        try await database.read { db in
            try db.queryOne("SELECT evaluated_until FROM schedule_cursors WHERE channel = ?", [channel])?.date("evaluated_until")
        }
    }

    /// The topic for a new job of `channel`: one not used within `topicRecencyDays` (from the
    /// schedule's slots, which outlive pruned jobs, and from the jobs table, which also has manual
    /// enqueues), never-used topics first in list order, then the one used longest ago.
    static func pickTopic(_ db: Connection, _ channel: ChannelConfig, now: Date) throws -> String? {
        let used = try lastUse(db, topics: channel.topics, channel: channel.name)
        let cutoff = now.addingTimeInterval(-Double(channel.topicRecencyDays) * 86_400)
        let eligible = channel.topics.filter { topic in
            guard let last = used[topic] else { return true }
            return channel.topicRecencyDays == 0 || last < cutoff
        }
        return eligible.min { (used[$0] ?? .distantPast) < (used[$1] ?? .distantPast) }
    }

    static func lastUse(_ db: Connection, topics: [String], channel: String) throws -> [String: Date] {
        var out: [String: Date] = [:]
        for topic in topics {
            let dates = try [SQL.topicLastSlot, SQL.topicLastJob].compactMap { try db.queryOne($0, [channel, topic])?.date("t") }
            if let d = dates.max() { out[topic] = d }
        }
        return out
    }

    /// The topic `ytauto enqueue` takes when none is given: as the scheduler picks, but when every
    /// topic is recent it still takes the one used longest ago (the operator asked for a job).
    public func suggestTopic(for channel: ChannelConfig) async throws -> (topic: String, recent: Bool) {
        let now = self.now()
        return try await database.read { db in
            if let t = try Self.pickTopic(db, channel, now: now) { return (t, false) }
            let used = try Self.lastUse(db, topics: channel.topics, channel: channel.name)
            let t = channel.topics.min { (used[$0] ?? .distantPast) < (used[$1] ?? .distantPast) } ?? channel.topics[0]
            return (t, true)
        }
    }

    /// The newest slots, newest first.
    public func slots(channel: String? = nil, limit: Int = 50) async throws -> [SlotRecord] {
        try await database.read { db in
            let rows = try db.query("""
                SELECT channel, slot_at, expression, decision, topic, job_id, decided_at, detail
                  FROM schedule_slots WHERE (?1 IS NULL OR channel = ?1)
                 ORDER BY slot_at DESC LIMIT ?2
                """, [channel, limit])
            return rows.map { r in
                SlotRecord(
                    channel: r.string("channel") ?? "", slotAt: r.date("slot_at") ?? .distantPast,
                    expression: r.string("expression") ?? "", decision: r.string("decision") ?? "",
                    topic: r.string("topic"), jobID: r.int("job_id"), decidedAt: r.date("decided_at") ?? .distantPast,
                    detail: r.string("detail"))
            }
        }
    }
}
