import Foundation
import PostgresNIO
import YTAutoCore

/// `ytauto-admin copy` on PostgreSQL: read out in id order (a page of jobs in five statements),
/// written back with ids kept, and the id sequences moved past the copied ids.
extension PostgresJobStore: StoreCopying {
    public func copiedJobs(after id: Int64, limit: Int) async throws -> [CopiedJob] {
        let jobs = try await pool.query("SELECT * FROM jobs WHERE id > \(id) ORDER BY id LIMIT \(limit)").map(Self.job)
        guard let first = jobs.first?.id, let last = jobs.last?.id else { return [] }
        var stages: [Int64: [StageRecord]] = [:], attempts: [Int64: [AttemptRecord]] = [:], runs: [Int64: [StageRunRecord]] = [:]
        for s in try await stageRecords("job_id BETWEEN \(first) AND \(last)") { stages[s.jobID, default: []].append(s) }
        for r in try await pool.query("SELECT * FROM job_attempts WHERE job_id BETWEEN \(first) AND \(last) ORDER BY attempt, id") {
            let a = try Self.attempt(r)
            attempts[a.jobID, default: []].append(a)
        }
        for r in try await pool.query("SELECT * FROM job_stage_runs WHERE job_id BETWEEN \(first) AND \(last) ORDER BY started_at, id") {
            let run = try Self.stageRun(r)
            runs[run.jobID, default: []].append(run)
        }
        var reviews: [Int64: ReviewRecord] = [:]
        for r in try await pool.query("""
            SELECT job_id, requested_at, decision, decided_at, decided_by, reason FROM job_reviews WHERE job_id BETWEEN \(first) AND \(last)
            """) {
            let review = try Self.reviewRecord(r)
            reviews[review.jobID] = review
        }
        return jobs.map { CopiedJob(job: $0, stages: stages[$0.id] ?? [], attempts: attempts[$0.id] ?? [], stageRuns: runs[$0.id] ?? [],
                                  review: reviews[$0.id]) }
    }

    public func copiedInstallation() async throws -> CopiedInstallation {
        var cursors: [String: Date] = [:]
        for r in try await pool.query("SELECT channel, evaluated_until FROM schedule_cursors") {
            cursors[try r.required("channel", r.string)] = try r.required("evaluated_until", r.date)
        }
        return CopiedInstallation(
            workers: try await workers(), slots: try await slots(channel: nil, limit: Int.max),
            cursors: cursors, ledger: try await ledger(since: "0000-00-00"), audit: try await auditLog(limit: Int.max).reversed(),
            pauses: try await pausedChannels(), footage: try await footageUses(), history: try await channelHistoryRows(),
            prunedTopics: try await pool.query("SELECT channel, topic, uses, last_used_at FROM pruned_topic_uses ORDER BY channel, topic").map { r in
                PrunedTopicUse(channel: try r.required("channel", r.string), topic: try r.required("topic", r.string),
                               uses: try r.required("uses", r.int), lastUsedAt: try r.required("last_used_at", r.date))
            },
            highestJobID: try await pool.queryOne("""
                SELECT greatest(coalesce(pg_sequence_last_value(pg_get_serial_sequence('jobs', 'id')::regclass), 0),
                                coalesce((SELECT max(id) FROM jobs), 0)) AS n
                """)?.int("n") ?? 0,
            expressionCursors: try await pool.query(
                "SELECT channel, expression, evaluated_until FROM schedule_expression_cursors ORDER BY channel, expression").map { r in
                ExpressionCursor(channel: try r.required("channel", r.string), expression: try r.required("expression", r.string),
                                 evaluatedUntil: try r.required("evaluated_until", r.date))
            })
    }

    public func beginCopy(from source: String) async throws {
        try await pool.transaction { tx in
            _ = try await tx.run("CREATE TABLE IF NOT EXISTS copy_in_progress (source text NOT NULL, started_at timestamptz NOT NULL)")
            _ = try await tx.run("DELETE FROM copy_in_progress")
            _ = try await tx.run("INSERT INTO copy_in_progress (source, started_at) VALUES (\(source), now())")
        }
    }

    public func endCopy() async throws {
        _ = try await pool.transaction { tx in try await tx.run("DROP TABLE IF EXISTS copy_in_progress") }
    }

    public func interruptedCopy() async throws -> CopyMark? {
        guard try await pool.queryOne("SELECT to_regclass('copy_in_progress') IS NOT NULL AS there")?.bool("there") == true else { return nil }
        let row = try await pool.queryOne("SELECT source, started_at FROM copy_in_progress LIMIT 1")
        return CopyMark(source: try row?.string("source"), startedAt: try row?.date("started_at").map(Timestamp.string))
    }

    public func isEmptyForCopy() async throws -> Bool {
        try await pool.queryOne("""
            SELECT NOT (EXISTS (SELECT 1 FROM jobs) OR EXISTS (SELECT 1 FROM workers) OR EXISTS (SELECT 1 FROM schedule_slots)
                        OR EXISTS (SELECT 1 FROM schedule_cursors) OR EXISTS (SELECT 1 FROM schedule_expression_cursors)
                        OR EXISTS (SELECT 1 FROM quota_ledger)
                        OR EXISTS (SELECT 1 FROM audit_log) OR EXISTS (SELECT 1 FROM channel_pauses)
                        OR EXISTS (SELECT 1 FROM footage_uses) OR EXISTS (SELECT 1 FROM channel_history)
                        OR EXISTS (SELECT 1 FROM pruned_topic_uses)) AS empty
            """)?.bool("empty") ?? false
    }

    public func insertCopied(_ jobs: [CopiedJob]) async throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let encoded = try jobs.map { c in
            try c.stages.map { (String(decoding: try encoder.encode($0.artifacts), as: UTF8.self),
                                String(decoding: try encoder.encode($0.notes), as: UTF8.self)) }
        }
        try await pool.transaction { tx in
            for (c, stageJSON) in zip(jobs, encoded) {
                let j = c.job
                try await tx.run("""
                    INSERT INTO jobs (id, channel, topic, payload, state, priority, run_at, attempt, max_attempts, lease_owner, lease_token,
                                      lease_expires_at, cancel_requested, current_stage, unique_key, last_error_code, last_error_message,
                                      created_at, updated_at, finished_at, kind, scheduled_at)
                    VALUES (\(j.id), \(j.channel), \(j.topic), \(j.payload), \(j.state.rawValue), \(j.priority), \(j.runAt), \(j.attempt),
                            \(j.maxAttempts), \(j.leaseOwner), \(j.leaseToken), \(j.leaseExpiresAt)::timestamptz, \(j.cancelRequested),
                            \(j.currentStage), \(j.uniqueKey), \(j.lastErrorCode), \(j.lastErrorMessage), \(j.createdAt), \(j.updatedAt),
                            \(j.finishedAt)::timestamptz, \(j.kind.rawValue), \(j.scheduledAt)::timestamptz)
                    """)
                for (s, (artifacts, notes)) in zip(c.stages, stageJSON) {
                    try await tx.run("""
                        INSERT INTO job_stages (job_id, stage, state, attempt, artifacts, started_at, finished_at, duration_ms,
                                                error_code, error_message, notes)
                        VALUES (\(s.jobID), \(s.stage), \(s.state.rawValue), \(s.attempt), \(artifacts), \(s.startedAt),
                                \(s.finishedAt)::timestamptz, \(s.durationMS)::bigint, \(s.errorCode), \(s.errorMessage), \(notes)::jsonb)
                        """)
                }
                for a in c.attempts {
                    try await tx.run("""
                        INSERT INTO job_attempts (id, job_id, attempt, lease_token, channel, worker_id, started_at, finished_at, outcome,
                                                  stage, error_code, error_message, pipeline, lease_seconds, heartbeat_at, due_at)
                        VALUES (\(a.id), \(a.jobID), \(a.attempt), \(a.leaseToken), \(a.channel), \(a.workerID), \(a.startedAt),
                                \(a.finishedAt)::timestamptz, \(a.outcome?.rawValue), \(a.stage), \(a.errorCode), \(a.errorMessage),
                                \(a.pipeline), \(a.leaseSeconds)::double precision, \(a.heartbeatAt)::timestamptz, \(a.dueAt)::timestamptz)
                        """)
                }
                for r in c.stageRuns {
                    try await tx.run("""
                        INSERT INTO job_stage_runs (id, job_id, attempt, lease_token, stage, state, started_at, finished_at, duration_ms,
                                                    error_code, error_message)
                        VALUES (\(r.id), \(r.jobID), \(r.attempt), \(r.leaseToken), \(r.stage), \(r.state.rawValue), \(r.startedAt),
                                \(r.finishedAt)::timestamptz, \(r.durationMS)::bigint, \(r.errorCode), \(r.errorMessage))
                        """)
                }
                if let r = c.review {
                    try await tx.run("""
                        INSERT INTO job_reviews (job_id, requested_at, decision, decided_at, decided_by, reason)
                        VALUES (\(r.jobID), \(r.requestedAt), \(r.decision?.rawValue), \(r.decidedAt)::timestamptz, \(r.decidedBy), \(r.reason))
                        """)
                }
            }
            // New rows must not take a copied id.
            for table in ["jobs", "job_attempts", "job_stage_runs"] {
                try await tx.run(PostgresQuery(unsafeSQL: """
                    SELECT setval(pg_get_serial_sequence('\(table)', 'id'), greatest((SELECT max(id) FROM \(table)), 1))
                    """))
            }
        }
    }

    public func insertCopied(_ installation: CopiedInstallation) async throws {
        try await pool.transaction { tx in
            // New jobs take ids above every id the source gave (``CopiedInstallation/highestJobID``).
            try await tx.run("""
                SELECT setval(pg_get_serial_sequence('jobs', 'id'), greatest((SELECT max(id) FROM jobs), \(installation.highestJobID), 1))
                """)
            for w in installation.workers {
                // A worker of another engine has no advisory lock: class and key 0 (no worker takes 0).
                try await tx.run("""
                    INSERT INTO workers (id, pid, hostname, lock_path, lock_class, lock_key, state, started_at, last_seen_at, stopped_at)
                    VALUES (\(w.id), \(Int(w.pid)), \(w.hostname), \(w.lockPath), 0, 0, \(w.state.rawValue), \(w.startedAt),
                            \(w.lastSeenAt), \(w.stoppedAt)::timestamptz)
                    """)
            }
            for s in installation.slots {
                try await tx.run("""
                    INSERT INTO schedule_slots (channel, slot_at, expression, decision, topic, job_id, decided_at, detail)
                    VALUES (\(s.channel), \(s.slotAt), \(s.expression), \(s.decision), \(s.topic), \(s.jobID)::bigint, \(s.decidedAt), \(s.detail))
                    """)
            }
            for (channel, until) in installation.cursors {
                try await tx.run("INSERT INTO schedule_cursors (channel, evaluated_until) VALUES (\(channel), \(until))")
            }
            for c in installation.expressionCursors {
                try await tx.run("""
                    INSERT INTO schedule_expression_cursors (channel, expression, evaluated_until)
                    VALUES (\(c.channel), \(c.expression), \(c.evaluatedUntil))
                    """)
            }
            let now = try await self.now(tx)
            for e in installation.ledger {
                try await tx.run("""
                    INSERT INTO quota_ledger (day, provider, channel, unit, amount, updated_at)
                    VALUES (\(e.day), \(e.provider), \(e.channel), \(e.unit), \(e.amount), \(now))
                    """)
            }
            for a in installation.audit {
                try await tx.run("""
                    INSERT INTO audit_log (id, at, actor, action, target, detail)
                    VALUES (\(a.id), \(a.at), \(a.actor), \(a.action), \(a.target), \(a.detail))
                    """)
            }
            for p in installation.pauses {
                try await tx.run("INSERT INTO channel_pauses (channel, paused_at, paused_by) VALUES (\(p.channel), \(p.pausedAt), \(p.pausedBy))")
            }
            for f in installation.footage {
                try await tx.run("INSERT INTO footage_uses (channel, asset, job_id, used_at) VALUES (\(f.channel), \(f.key), \(f.jobID), \(f.usedAt))")
            }
            for h in installation.history {
                try await tx.run("""
                    INSERT INTO channel_history (channel, job_id, at, topic, script, thumbnail_hash)
                    VALUES (\(h.channel), \(h.jobID), \(h.at), \(h.topic), \(h.script), \(h.thumbnailHash))
                    """)
            }
            for t in installation.prunedTopics {
                try await tx.run("""
                    INSERT INTO pruned_topic_uses (channel, topic, uses, last_used_at) VALUES (\(t.channel), \(t.topic), \(t.uses), \(t.lastUsedAt))
                    """)
            }
            // New entries take ids after the copied ones.
            try await tx.run("SELECT setval(pg_get_serial_sequence('audit_log', 'id'), greatest((SELECT max(id) FROM audit_log), 1))")
        }
    }
}
