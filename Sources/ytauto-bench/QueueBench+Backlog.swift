import Foundation
import YTAutoCore
import YTAutoStore

/// The queue's cost as its backlog grows, against a minimal queue in the same run.
///
/// The minimal queue is the least a SQLite job queue can do, written apart from ours so that it
/// shares none of our SQL: one table, one partial index, one
/// `UPDATE … WHERE id = (SELECT … LIMIT 1) RETURNING id` to lease and one `UPDATE` to complete,
/// each its own autocommit transaction, prepared once, through CSQLite with SQLite's own busy
/// handler (goqite and huey's SQLite storage are built the same way). Ours runs its bare life
/// cycle (`--stages 0`): lease with its attempt row, complete with its fencing check.
extension QueueBench {
    static let minimalSchema = """
        CREATE TABLE jobs (
            id INTEGER PRIMARY KEY, payload TEXT NOT NULL, state TEXT NOT NULL DEFAULT 'queued',
            priority INTEGER NOT NULL DEFAULT 0, run_at TEXT NOT NULL, attempt INTEGER NOT NULL DEFAULT 0,
            lease_owner TEXT, lease_expires_at TEXT, finished_at TEXT);
        CREATE INDEX jobs_lease ON jobs (priority, run_at, id) WHERE state = 'queued';
        """
    static let minimalLease = """
        UPDATE jobs SET state = 'running', attempt = attempt + 1, lease_owner = ?1, lease_expires_at = ?2
         WHERE id = (SELECT id FROM jobs WHERE state = 'queued' AND run_at <= ?3 ORDER BY priority, run_at, id LIMIT 1)
        RETURNING id
        """
    static let minimalComplete = "UPDATE jobs SET state = 'succeeded', lease_owner = NULL, finished_at = ?2 WHERE id = ?1"

    /// `count` queued jobs due within the last day (spread over it, so index order is not insertion order).
    static func fill(_ raw: RawSQLite, count: Int, minimal: Bool) throws {
        let sql = minimal ? """
            WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?1)
            INSERT INTO jobs (payload, run_at)
            SELECT json_object('topic', 't' || i), strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-1 day', '+' || (i * 7919 % 86000) || ' seconds') FROM n
            """ : """
            WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?1)
            INSERT INTO jobs (channel, topic, payload, state, priority, run_at, max_attempts, created_at, updated_at, kind, scheduled_at)
            SELECT 'c' || (i % 3), 't' || i, json_object('options', json_object(), 'topic', 't' || i), 'queued', 0,
                   strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-1 day', '+' || (i * 7919 % 86000) || ' seconds'), 3,
                   strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-1 day'), strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-1 day'), 'video',
                   strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-1 day', '+' || (i * 7919 % 86000) || ' seconds')
              FROM n
            """
        try raw.exec("BEGIN IMMEDIATE")
        try raw.run(sql, [Int64(count)])
        try raw.exec("COMMIT")
    }

    /// One row of the backlog table.
    struct BacklogRow {
        var backlog: Int
        var ours: Result
        var minimal: Result
    }

    /// For each backlog: `jobs` jobs through P processes of ours (`--stages 0`) and of the minimal
    /// queue, each on a fresh file that holds the backlog plus those jobs.
    func backlogTable(folder: URL, backlogs: [Int]) async throws -> [BacklogRow] {
        var rows: [BacklogRow] = []
        for n in backlogs {
            let oursPath = folder.appending(path: "backlog-\(n)-ours.db").path
            _ = try SQLiteJobStore(path: oursPath)
            let t0 = ContinuousClock.now
            try Self.fill(RawSQLite(oursPath), count: n + jobs, minimal: false)
            let fillOurs = (ContinuousClock.now - t0).seconds
            let ours = try await lifecycle(mode: "ours", db: oursPath, folder: folder, stages: 0, perProcess: jobs / processes, tag: "b\(n)")

            let minimalPath = folder.appending(path: "backlog-\(n)-minimal.db").path
            let raw = try RawSQLite(minimalPath, create: true)
            try raw.exec(Self.minimalSchema)
            try Self.fill(raw, count: n + jobs, minimal: true)
            let minimal = try await lifecycle(mode: "minimal", db: minimalPath, folder: folder, stages: 0, perProcess: jobs / processes, tag: "b\(n)")
            print("  backlog \(n): filled in \(fmt(fillOurs, 1)) s; ours \(fmt(Double(jobs / processes * processes) / ours.seconds, 0)) jobs/s, "
                + "minimal \(fmt(Double(jobs / processes * processes) / minimal.seconds, 0)) jobs/s")
            rows.append(BacklogRow(backlog: n, ours: ours, minimal: minimal))
            for p in [oursPath, minimalPath] {
                for suffix in ["", "-wal", "-shm", "-wake"] { try? FileManager.default.removeItem(atPath: p + suffix) }
            }
        }
        return rows
    }

    func printBacklog(_ rows: [BacklogRow]) {
        let done = Double(jobs / processes * processes)
        print("")
        print("backlog (queued before timing), \(processes) processes, --stages 0, \(Int(done)) jobs timed:")
        print("backlog     ours jobs/s  lease p50  lease p99   minimal jobs/s  lease p50  lease p99   ours/minimal")
        for r in rows {
            let o = done / r.ours.seconds, m = done / r.minimal.seconds
            print(String(r.backlog).leftPad(9)
                + "  " + fmt(o, 0).leftPad(11)
                + "  " + (fmt(percentile(r.ours.leaseMS, 50), 2) + " ms").leftPad(9)
                + "  " + (fmt(percentile(r.ours.leaseMS, 99), 2) + " ms").leftPad(9)
                + "  " + fmt(m, 0).leftPad(15)
                + "  " + (fmt(percentile(r.minimal.leaseMS, 50), 2) + " ms").leftPad(9)
                + "  " + (fmt(percentile(r.minimal.leaseMS, 99), 2) + " ms").leftPad(9)
                + "  " + fmt(o / m, 2).leftPad(13))
        }
        if let first = rows.first, let last = rows.last, rows.count > 1 {
            print("ours at backlog \(last.backlog) / at \(first.backlog): \(fmt(first.ours.seconds / last.ours.seconds, 2)) (goal: at least 0.80)")
        }
    }
}

/// The minimal queue's process loop: lease, complete, nothing else.
func minimalLoop(db: String, name: String, maxJobs: Int, leaseMS: inout [Double]) throws -> Int {
    let raw = try RawSQLite(db)
    var completed = 0
    while completed < maxJobs {
        let t = ContinuousClock.now
        let now = Date()
        let rows = try raw.run(QueueBench.minimalLease, [name, Timestamp.string(now.addingTimeInterval(300)), Timestamp.string(now)])
        guard let id = rows.first?[0].flatMap({ Int64($0) }) else { break }
        leaseMS.append((ContinuousClock.now - t).seconds * 1000)
        try raw.run(QueueBench.minimalComplete, [id, Timestamp.string(Date())])
        completed += 1
    }
    return completed
}
