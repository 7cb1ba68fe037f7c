import Foundation
import YTAutoCore

extension SQLiteJobStore {
    /// Decides every slot of `channel` from where the last scheduler stopped looking up to `now`,
    /// in one write transaction: each slot is a row of `schedule_slots` (primary key channel + instant),
    /// so however many schedulers run, a slot becomes at most one job.
    ///
    /// The first time a channel is seen, slots from `now - SchedulingRules.onTimeTolerance` are considered: a new
    /// channel does not backfill its past.
    public func schedule(_ channel: ChannelConfig, now: Date? = nil) async throws -> [SlotDecision] {
        let now = now ?? self.now()
        guard let zone = TimeZone(identifier: channel.timeZone) else {
            throw JobStoreError.invalidArgument("channel \(channel.name): time zone '\(channel.timeZone)' is unknown")
        }
        let expressions = try channel.schedule.map { try CronExpression($0) }
        let decisions: [SlotDecision] = try await database.write { db in
            var stored: [String: Date] = [:]
            for row in try db.query("SELECT expression, evaluated_until FROM schedule_expression_cursors WHERE channel = ?", [channel.name]) {
                let r = StoredRow(row, table: "schedule_expression_cursors", name: "a schedule entry's cursor of channel \(channel.name)")
                stored[try r.string("expression")] = try r.date("evaluated_until")
            }
            let cursors = SchedulingRules.cursors(of: expressions, stored: stored, channelCursor: try Self.cursor(db, channel: channel.name), now: now)
            guard cursors.contains(where: { $0 < now }) else { return [] }
            var decisions: [SlotDecision] = []
            var picked: [String] = []
            let verdicts = SchedulingRules.verdicts(of: Array(zip(expressions, cursors)), through: now, in: zone, channel: channel)
            for var decision in SchedulingRules.paused(verdicts, by: try Self.pause(db, channel: channel.name)) {
                let t = decision.slotAt
                if decision.kind == .enqueued {
                    decision.topic = try Self.pickTopic(db, channel, now: now, pickedBefore: picked)
                    picked += decision.topic.map { [$0] } ?? []
                    if decision.topic == nil {
                        decision.kind = .noTopic
                        decision.detail = SchedulingRules.noTopicDetail(channel)
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
            for e in expressions {
                try db.run("""
                    INSERT INTO schedule_expression_cursors (channel, expression, evaluated_until) VALUES (?, ?, ?)
                    ON CONFLICT (channel, expression) DO UPDATE SET evaluated_until = max(evaluated_until, excluded.evaluated_until)
                    """, [channel.name, e.text, now])
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
        try await database.read { db in try Self.cursor(db, channel: channel) }
    }

    static func cursor(_ db: Connection, channel: String) throws -> Date? {
        guard let row = try db.queryOne("SELECT evaluated_until FROM schedule_cursors WHERE channel = ?", [channel]) else { return nil }
        return try StoredRow(row, table: "schedule_cursors", name: "the cursor of channel \(channel)").date("evaluated_until")
    }

    /// The topic for a new job of `channel` (``SchedulingRules/pickTopic(_:lastUse:recencyDays:now:pickedBefore:)``),
    /// from when each topic was last used: in the schedule's slots, which outlive pruned jobs, in
    /// the jobs table, which also has manual enqueues, and in `pruned_topic_uses`, which keeps a
    /// pruned manual enqueue's topic.
    static func pickTopic(_ db: Connection, _ channel: ChannelConfig, now: Date, pickedBefore: [String]) throws -> String? {
        SchedulingRules.pickTopic(channel.topics, lastUse: try lastUse(db, topics: channel.topics, channel: channel.name),
                                  recencyDays: channel.topicRecencyDays, now: now, pickedBefore: pickedBefore)
    }

    static func lastUse(_ db: Connection, topics: [String], channel: String) throws -> [String: Date] {
        var out: [String: Date] = [:]
        for topic in topics {
            let dates = try [SQL.topicLastSlot, SQL.topicLastJob, SQL.topicLastPruned].compactMap { sql in
                try db.queryOne(sql, [channel, topic]).flatMap {
                    try StoredRow($0, table: "jobs", name: "the last use of topic \(topic) on \(channel)").optionalDate("t")
                }
            }
            if let d = dates.max() { out[topic] = d }
        }
        return out
    }

    /// The topic `ytauto enqueue` takes when none is given (``SchedulingRules/suggestTopic(_:lastUse:recencyDays:now:)``).
    public func suggestTopic(for channel: ChannelConfig) async throws -> (topic: String, recent: Bool) {
        let now = self.now()
        let used = try await database.read { db in try Self.lastUse(db, topics: channel.topics, channel: channel.name) }
        return try SchedulingRules.suggestTopic(for: channel, lastUse: used, now: now)
    }

    public func enqueueNextTopic(_ new: NewJob, channel: ChannelConfig) async throws -> (result: EnqueueResult, recent: Bool) {
        try JobRules.checkNewJob(new)
        let now = self.now()
        // One write transaction (BEGIN IMMEDIATE): enqueues of the channel at once take turns.
        let out = try await database.write { db -> (EnqueueResult, Bool) in
            let used = try Self.lastUse(db, topics: channel.topics, channel: channel.name)
            let suggestion = try SchedulingRules.suggestTopic(for: channel, lastUse: used, now: now)
            var job = new
            job.topic = suggestion.topic
            return (try Self.insert(db, job, now: now), suggestion.recent)
        }
        if out.0.inserted { database.signalWork() }
        return out
    }

    /// The newest slots, newest first; slots of the same time by channel name.
    public func slots(channel: String? = nil, limit: Int = 50) async throws -> [SlotRecord] {
        try await database.read { db in
            let rows = try db.query("""
                SELECT channel, slot_at, expression, decision, topic, job_id, decided_at, detail
                  FROM schedule_slots WHERE (?1 IS NULL OR channel = ?1)
                 ORDER BY slot_at DESC, channel LIMIT ?2
                """, [channel, limit])
            return try rows.map { row in
                let r = StoredRow(row, table: "schedule_slots",
                                  name: "slot \(row.string("slot_at") ?? "?") of channel \(row.string("channel") ?? "?")")
                return SlotRecord(
                    channel: try r.string("channel"), slotAt: try r.date("slot_at"),
                    expression: try r.string("expression"), decision: try r.string("decision"),
                    topic: try r.optionalString("topic"), jobID: try r.optionalInt("job_id"), decidedAt: try r.date("decided_at"),
                    detail: try r.optionalString("detail"))
            }
        }
    }
}
