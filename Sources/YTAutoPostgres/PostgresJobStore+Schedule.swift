import Foundation
import PostgresNIO
import YTAutoCore

/// The scheduler's slots, cursors and topic choice (the rules are ``SchedulingRules``').
extension PostgresJobStore {
    /// Decides every slot of `channel` from where the last scheduler stopped looking up to `now`, in
    /// one transaction that holds the channel's advisory lock: schedulers on several hosts take turns
    /// per channel, and the slot's primary key still makes a slot at most one job.
    public func schedule(_ channel: ChannelConfig, now at: Date? = nil) async throws -> [SlotDecision] {
        guard let zone = TimeZone(identifier: channel.timeZone) else {
            throw JobStoreError.invalidArgument("channel \(channel.name): time zone '\(channel.timeZone)' is unknown")
        }
        let expressions = try channel.schedule.map { try CronExpression($0) }
        let nowBind = self.nowBind
        let decisions: [SlotDecision] = try await pool.transaction { tx in
            try await tx.run("SELECT pg_advisory_xact_lock(hashtextextended(\("ytauto-schedule:\(channel.name)"), 0))")
            let now: Date
            if let at { now = at.roundedToMilliseconds } else { now = try await self.now(tx) }
            let channelCursor = try await tx.queryOne(
                "SELECT evaluated_until FROM schedule_cursors WHERE channel = \(channel.name)")?.date("evaluated_until")
            var stored: [String: Date] = [:]
            for row in try await tx.query("SELECT expression, evaluated_until FROM schedule_expression_cursors WHERE channel = \(channel.name)") {
                stored[try row.required("expression", row.string)] = try row.required("evaluated_until", row.date)
            }
            let cursors = SchedulingRules.cursors(of: expressions, stored: stored, channelCursor: channelCursor, now: now)
            guard cursors.contains(where: { $0 < now }) else { return [] }
            var decisions: [SlotDecision] = []
            var picked: [String] = []
            let verdicts = SchedulingRules.paused(
                SchedulingRules.verdicts(of: Array(zip(expressions, cursors)), through: now, in: zone, channel: channel),
                by: try await Self.pause(tx.queryOne, channel: channel.name))
            // The slots that make no job (missed, paused) in one statement: after a long downtime
            // they are thousands, and a round trip each would hold the channel's lock for minutes.
            let idle = verdicts.filter { $0.kind != .enqueued }
            if !idle.isEmpty {
                let made = try await tx.query("""
                    INSERT INTO schedule_slots (channel, slot_at, expression, decision, topic, decided_at, detail)
                    SELECT \(channel.name), s.at, s.expression, s.decision, NULL, \(now), s.detail
                      FROM unnest(\(idle.map { $0.slotAt.roundedToMilliseconds })::timestamptz[], \(idle.map(\.expression))::text[],
                                  \(idle.map(\.kind.rawValue))::text[], \(idle.map { $0.detail ?? "" })::text[]) AS s (at, expression, decision, detail)
                    ON CONFLICT (channel, slot_at) DO NOTHING
                    RETURNING slot_at
                    """)
                let inserted = Set(try made.map { Timestamp.string(try $0.required("slot_at", $0.date)) })
                decisions += idle.filter { inserted.contains(Timestamp.string($0.slotAt.roundedToMilliseconds)) }
            }
            for var decision in verdicts where decision.kind == .enqueued {
                let t = decision.slotAt.roundedToMilliseconds
                decision.topic = try await Self.pickTopic(tx, channel, now: now, pickedBefore: picked)
                picked += decision.topic.map { [$0] } ?? []
                if decision.topic == nil {
                    decision.kind = .noTopic
                    decision.detail = SchedulingRules.noTopicDetail(channel)
                }
                let inserted = try await tx.queryOne("""
                    INSERT INTO schedule_slots (channel, slot_at, expression, decision, topic, decided_at, detail)
                    VALUES (\(channel.name), \(t), \(decision.expression), \(decision.kind.rawValue), \(decision.topic), \(now), \(decision.detail))
                    ON CONFLICT (channel, slot_at) DO NOTHING
                    RETURNING slot_at
                    """)
                guard inserted != nil else { continue }  // Another scheduler decided it first.
                if decision.kind == .enqueued {
                    let slot = Timestamp.string(t)
                    let result = try await Self.insert(tx, NewJob(
                        channel: channel.name, topic: decision.topic, options: ["slot_at": slot, "cron": decision.expression],
                        priority: channel.priority, runAt: t, maxAttempts: channel.maxAttempts,
                        uniqueKey: "slot:\(channel.name):\(slot)"), nowBind: nowBind ?? now)
                    decision.jobID = result.job.id
                    try await tx.run("UPDATE schedule_slots SET job_id = \(result.job.id) WHERE channel = \(channel.name) AND slot_at = \(t)")
                }
                decisions.append(decision)
            }
            decisions.sort { $0.slotAt < $1.slotAt }
            for e in expressions {
                try await tx.run("""
                    INSERT INTO schedule_expression_cursors (channel, expression, evaluated_until) VALUES (\(channel.name), \(e.text), \(now))
                    ON CONFLICT (channel, expression) DO UPDATE
                    SET evaluated_until = greatest(schedule_expression_cursors.evaluated_until, excluded.evaluated_until)
                    """)
            }
            try await tx.run("""
                INSERT INTO schedule_cursors (channel, evaluated_until) VALUES (\(channel.name), \(now))
                ON CONFLICT (channel) DO UPDATE SET evaluated_until = greatest(schedule_cursors.evaluated_until, excluded.evaluated_until)
                """)
            return decisions
        }
        if decisions.contains(where: { $0.kind == .enqueued }) { signal.bump() }
        return decisions
    }

    /// Where the schedulers stopped looking for `channel`, or nil when no scheduler has seen it.
    public func scheduleCursor(channel: String) async throws -> Date? {
        try await pool.queryOne("SELECT evaluated_until FROM schedule_cursors WHERE channel = \(channel)")?.date("evaluated_until")
    }

    static func pickTopic(_ tx: PGTransaction, _ channel: ChannelConfig, now: Date, pickedBefore: [String]) async throws -> String? {
        SchedulingRules.pickTopic(channel.topics, lastUse: try await lastUse(tx.query, topics: channel.topics, channel: channel.name),
                                  recencyDays: channel.topicRecencyDays, now: now, pickedBefore: pickedBefore)
    }

    /// When each topic was last used on `channel`: in the slots (which outlive pruned jobs), in
    /// video jobs (a diagnostic one makes no video) and in the pruned jobs no slot named
    /// (`pruned_topic_uses`). One statement for all the topics (an index
    /// seek apiece), not one a topic.
    static func lastUse(_ query: (PostgresQuery) async throws -> [PGRow], topics: [String], channel: String) async throws -> [String: Date] {
        guard !topics.isEmpty else { return [:] }
        var out: [String: Date] = [:]
        for r in try await query("""
            SELECT t.topic, greatest(
                (SELECT max(decided_at) FROM schedule_slots WHERE channel = \(channel) AND topic = t.topic),
                (SELECT max(created_at) FROM jobs WHERE channel = \(channel) AND topic = t.topic AND kind = 'video'),
                (SELECT last_used_at FROM pruned_topic_uses WHERE channel = \(channel) AND topic = t.topic)) AS last
              FROM unnest(\(topics)::text[]) AS t (topic)
            """) {
            if let d = try r.date("last") { out[try r.required("topic", r.string)] = d }
        }
        return out
    }

    /// The topic `ytauto enqueue` takes when none is given.
    public func suggestTopic(for channel: ChannelConfig) async throws -> (topic: String, recent: Bool) {
        let used = try await Self.lastUse(pool.query, topics: channel.topics, channel: channel.name)
        let now = try await pool.queryOne("SELECT coalesce(\(nowBind)::timestamptz, now()) AS now")?.date("now") ?? approximateNow
        return try SchedulingRules.suggestTopic(for: channel, lastUse: used, now: now)
    }

    public func enqueueNextTopic(_ new: NewJob, channel: ChannelConfig) async throws -> (result: EnqueueResult, recent: Bool) {
        try JobRules.checkNewJob(new)
        let nowBind = self.nowBind
        let out = try await pool.transaction { tx -> (EnqueueResult, Bool) in
            // The scheduler's lock of the channel: enqueues and schedulers of it, on any host, take turns.
            try await tx.run("SELECT pg_advisory_xact_lock(hashtextextended(\("ytauto-schedule:\(channel.name)"), 0))")
            let now = try await self.now(tx)
            let used = try await Self.lastUse(tx.query, topics: channel.topics, channel: channel.name)
            let suggestion = try SchedulingRules.suggestTopic(for: channel, lastUse: used, now: now)
            var job = new
            job.topic = suggestion.topic
            return (try await Self.insert(tx, job, nowBind: nowBind), suggestion.recent)
        }
        if out.0.inserted { signal.bump() }
        return out
    }

    /// The newest slots, newest first; slots of the same time by channel name.
    public func slots(channel: String? = nil, limit: Int = 50) async throws -> [SlotRecord] {
        try await pool.query("""
            SELECT channel, slot_at, expression, decision, topic, job_id, decided_at, detail
              FROM schedule_slots WHERE (\(channel)::text IS NULL OR channel = \(channel))
             ORDER BY slot_at DESC, channel LIMIT \(limit)
            """).map { r in
            SlotRecord(
                channel: try r.required("channel", r.string), slotAt: try r.required("slot_at", r.date),
                expression: try r.required("expression", r.string), decision: try r.required("decision", r.string),
                topic: try r.string("topic"), jobID: try r.int("job_id"), decidedAt: try r.required("decided_at", r.date),
                detail: try r.string("detail"))
        }
    }
}
