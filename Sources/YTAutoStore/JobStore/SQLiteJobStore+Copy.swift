import Foundation
import YTAutoCore

/// `ytauto-admin copy` on SQLite: read out in id order, written back with ids kept.
extension SQLiteJobStore: StoreCopying {
    public func copiedJobs(after id: Int64, limit: Int) async throws -> [CopiedJob] {
        let jobs = try await database.read { db in
            try db.query("SELECT \(SQL.columns) FROM jobs WHERE id > ? ORDER BY id LIMIT ?", [id, limit]).map(Self.job)
        }
        var out: [CopiedJob] = []
        for job in jobs {
            out.append(CopiedJob(job: job, stages: try await stages(jobID: job.id), attempts: try await attempts(jobID: job.id),
                                 stageRuns: try await stageRuns(jobID: job.id), review: try await review(jobID: job.id)))
        }
        return out
    }

    public func copiedInstallation() async throws -> CopiedInstallation {
        let cursors = try await database.read { db in
            try db.query("SELECT channel, evaluated_until FROM schedule_cursors ORDER BY channel").map { row -> (String, Date) in
                let r = StoredRow(row, table: "schedule_cursors", name: "cursor \(row.string("channel") ?? "?")")
                return (try r.string("channel"), try r.date("evaluated_until"))
            }
        }
        let highest = try await database.read { db in
            try db.queryOne("SELECT max(coalesce((SELECT max(id) FROM jobs), 0), (SELECT high FROM job_id_high WHERE one = 1)) AS n")?.int("n") ?? 0
        }
        let prunedTopics = try await database.read { db in
            try db.query("SELECT channel, topic, uses, last_used_at FROM pruned_topic_uses ORDER BY channel, topic").map { row in
                let r = StoredRow(row, table: "pruned_topic_uses", name: "pruned topic \(row.string("topic") ?? "?") of \(row.string("channel") ?? "?")")
                return PrunedTopicUse(channel: try r.string("channel"), topic: try r.string("topic"), uses: try r.int("uses"),
                                      lastUsedAt: try r.date("last_used_at"))
            }
        }
        let expressionCursors = try await database.read { db in
            try db.query("SELECT channel, expression, evaluated_until FROM schedule_expression_cursors ORDER BY channel, expression").map { row in
                let r = StoredRow(row, table: "schedule_expression_cursors", name: "cursor of \(row.string("expression") ?? "?") of \(row.string("channel") ?? "?")")
                return ExpressionCursor(channel: try r.string("channel"), expression: try r.string("expression"), evaluatedUntil: try r.date("evaluated_until"))
            }
        }
        return CopiedInstallation(
            workers: try await workers(), slots: try await slots(channel: nil, limit: Int.max),
            cursors: Dictionary(cursors, uniquingKeysWith: { a, _ in a }), ledger: try await ledger(since: "0000-00-00"),
            audit: try await auditLog(limit: Int.max).reversed(), pauses: try await pausedChannels(), footage: try await footageUses(),
            history: try await channelHistoryRows(), prunedTopics: prunedTopics, highestJobID: highest, expressionCursors: expressionCursors)
    }

    public func beginCopy(from source: String) async throws {
        let now = self.now()
        try await database.write { db in
            try db.execute("CREATE TABLE IF NOT EXISTS copy_in_progress (source TEXT NOT NULL, started_at TEXT NOT NULL)")
            _ = try db.run("DELETE FROM copy_in_progress")
            _ = try db.run("INSERT INTO copy_in_progress (source, started_at) VALUES (?, ?)", [source, now])
        }
    }

    public func endCopy() async throws {
        try await database.write { db in try db.execute("DROP TABLE IF EXISTS copy_in_progress") }
    }

    public func interruptedCopy() async throws -> CopyMark? {
        try await database.read { db in
            guard try db.queryOne("SELECT 1 AS found FROM sqlite_schema WHERE type = 'table' AND name = 'copy_in_progress'") != nil else { return nil }
            let row = try db.queryOne("SELECT source, started_at FROM copy_in_progress LIMIT 1")
            return CopyMark(source: row?.string("source"), startedAt: row?.string("started_at"))
        }
    }

    public func isEmptyForCopy() async throws -> Bool {
        try await database.read { db in
            try ["jobs", "workers", "schedule_slots", "schedule_cursors", "schedule_expression_cursors", "quota_ledger", "audit_log", "channel_pauses", "footage_uses",
                 "channel_history", "pruned_topic_uses"].allSatisfy { table in
                try db.queryOne("SELECT 1 AS found FROM \(table) LIMIT 1") == nil
            }
        }
    }

    public func insertCopied(_ jobs: [CopiedJob]) async throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let rows = try jobs.map { c in
            (c, try c.stages.map { (String(decoding: try encoder.encode($0.artifacts), as: UTF8.self),
                                    String(decoding: try encoder.encode($0.notes), as: UTF8.self)) })
        }
        try await database.write { db in
            for (c, encoded) in rows {
                let j = c.job
                try db.run("""
                    INSERT INTO jobs (id, channel, topic, payload, state, priority, run_at, attempt, max_attempts, lease_owner, lease_token,
                                      lease_expires_at, cancel_requested, current_stage, unique_key, last_error_code, last_error_message,
                                      created_at, updated_at, finished_at, kind, scheduled_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """, [j.id, j.channel, j.topic, j.payload, j.state.rawValue, j.priority, j.runAt, j.attempt, j.maxAttempts,
                          j.leaseOwner, j.leaseToken, j.leaseExpiresAt, j.cancelRequested, j.currentStage, j.uniqueKey,
                          j.lastErrorCode, j.lastErrorMessage, j.createdAt, j.updatedAt, j.finishedAt, j.kind.rawValue, j.scheduledAt])
                for (s, (artifacts, notes)) in zip(c.stages, encoded) {
                    try db.run("""
                        INSERT INTO job_stages (job_id, stage, state, attempt, artifacts, started_at, finished_at, duration_ms,
                                                error_code, error_message, notes)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                        """, [s.jobID, s.stage, s.state.rawValue, s.attempt, artifacts, s.startedAt, s.finishedAt, s.durationMS,
                              s.errorCode, s.errorMessage, notes])
                }
                for a in c.attempts {
                    try db.run("""
                        INSERT INTO job_attempts (id, job_id, attempt, lease_token, channel, worker_id, started_at, finished_at, outcome,
                                                  stage, error_code, error_message, pipeline, lease_seconds, heartbeat_at, due_at)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                        """, [a.id, a.jobID, a.attempt, a.leaseToken, a.channel, a.workerID, a.startedAt, a.finishedAt,
                              a.outcome?.rawValue, a.stage, a.errorCode, a.errorMessage, a.pipeline, a.leaseSeconds, a.heartbeatAt, a.dueAt])
                }
                for r in c.stageRuns {
                    try db.run("""
                        INSERT INTO job_stage_runs (id, job_id, attempt, lease_token, stage, state, started_at, finished_at, duration_ms,
                                                    error_code, error_message)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                        """, [r.id, r.jobID, r.attempt, r.leaseToken, r.stage, r.state.rawValue, r.startedAt, r.finishedAt, r.durationMS,
                              r.errorCode, r.errorMessage])
                }
                if let r = c.review {
                    try db.run("""
                        INSERT INTO job_reviews (job_id, requested_at, decision, decided_at, decided_by, reason) VALUES (?, ?, ?, ?, ?, ?)
                        """, [r.jobID, r.requestedAt, r.decision?.rawValue, r.decidedAt, r.decidedBy, r.reason])
                }
            }
        }
    }

    public func insertCopied(_ installation: CopiedInstallation) async throws {
        try await database.write { db in
            // New jobs take ids above every id the source gave (``CopiedInstallation/highestJobID``).
            try db.run("UPDATE job_id_high SET high = max(high, ?) WHERE one = 1", [installation.highestJobID])
            for w in installation.workers {
                try db.run("""
                    INSERT INTO workers (id, pid, hostname, lock_path, state, started_at, last_seen_at, stopped_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                    """, [w.id, Int(w.pid), w.hostname, w.lockPath, w.state.rawValue, w.startedAt, w.lastSeenAt, w.stoppedAt])
            }
            for s in installation.slots {
                try db.run("""
                    INSERT INTO schedule_slots (channel, slot_at, expression, decision, topic, job_id, decided_at, detail)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                    """, [s.channel, s.slotAt, s.expression, s.decision, s.topic, s.jobID, s.decidedAt, s.detail])
            }
            for (channel, until) in installation.cursors {
                try db.run("INSERT INTO schedule_cursors (channel, evaluated_until) VALUES (?, ?)", [channel, until])
            }
            for c in installation.expressionCursors {
                try db.run("INSERT INTO schedule_expression_cursors (channel, expression, evaluated_until) VALUES (?, ?, ?)",
                           [c.channel, c.expression, c.evaluatedUntil])
            }
            let now = self.now()
            for e in installation.ledger {
                try db.run("INSERT INTO quota_ledger (day, provider, channel, unit, amount, updated_at) VALUES (?, ?, ?, ?, ?, ?)",
                           [e.day, e.provider, e.channel, e.unit, e.amount, now])
            }
            for a in installation.audit {
                try db.run("INSERT INTO audit_log (id, at, actor, action, target, detail) VALUES (?, ?, ?, ?, ?, ?)",
                           [a.id, a.at, a.actor, a.action, a.target, a.detail])
            }
            for p in installation.pauses {
                try db.run("INSERT INTO channel_pauses (channel, paused_at, paused_by) VALUES (?, ?, ?)", [p.channel, p.pausedAt, p.pausedBy])
            }
            for f in installation.footage {
                try db.run("INSERT INTO footage_uses (channel, asset, job_id, used_at) VALUES (?, ?, ?, ?)", [f.channel, f.key, f.jobID, f.usedAt])
            }
            for h in installation.history {
                try db.run("INSERT INTO channel_history (channel, job_id, at, topic, script, thumbnail_hash) VALUES (?, ?, ?, ?, ?, ?)",
                           [h.channel, h.jobID, h.at, h.topic, h.script, h.thumbnailHash])
            }
            for t in installation.prunedTopics {
                try db.run("INSERT INTO pruned_topic_uses (channel, topic, uses, last_used_at) VALUES (?, ?, ?, ?)",
                           [t.channel, t.topic, t.uses, t.lastUsedAt])
            }
        }
    }
}
