import ArgumentParser
import Foundation
import YTAutoCore
import YTAutoStore

/// `ytauto-bench chaos`: SIGKILL workers and the scheduler at random while jobs run, restart
/// them, and check that nothing was lost, duplicated, overlapped, stuck or corrupted.
struct ChaosBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "chaos",
        abstract: "Kill workers and the scheduler with SIGKILL at random while jobs run; check every job ends exactly once.",
        discussion: """
            Runs real `ytauto worker` processes (diagnostic pipeline: every stage sleeps --stage-ms and writes a \
            checksummed file) and a `ytauto scheduler`, kills one of them every so often with SIGKILL and \
            restarts it. Then checks: every job succeeded exactly once; no two attempts of a job overlapped; \
            no job is left queued or running; every recorded artifact verifies. Reports the time from each \
            kill to the re-lease of that worker's jobs. Exit 0 only if every check passes.
            """)

    @Option(help: "Worker processes.") var workers = 4
    @Option(help: "Jobs.") var jobs = 500
    @Option(help: "SIGKILLs to send.") var kills = 100
    @Option(help: "Milliseconds each of the 7 stages sleeps.") var stageMs = 40
    @Option(help: "Jobs each worker runs at once.") var concurrency = 2
    @Option(help: "Give up after this many seconds.") var timeout = 900
    @Option(help: "Random seed (default: the time).") var seed: UInt64?
    @Option(help: "Folder for the run (default: a temporary one, removed after).") var dir: String?

    func validate() throws {
        guard (1...64).contains(workers) else { throw ValidationError("--workers must be within 1...64") }
        guard (1...1_000_000).contains(jobs) else { throw ValidationError("--jobs must be within 1...1000000") }
        guard (0...100_000).contains(kills) else { throw ValidationError("--kills must be within 0...100000") }
        guard (0...60_000).contains(stageMs) else { throw ValidationError("--stage-ms must be within 0...60000") }
        guard (1...256).contains(concurrency) else { throw ValidationError("--concurrency must be within 1...256") }
        guard (1...86_400).contains(timeout) else { throw ValidationError("--timeout must be within 1...86400 seconds") }
    }

    struct Role {
        var name: String
        var args: [String]
        var process: Spawned?
    }

    func run() async throws {
        let folder = dir.map { URL(fileURLWithPath: $0) } ?? FileManager.default.temporaryDirectory.appending(path: "ytauto-chaos-\(getpid())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { if dir == nil { try? FileManager.default.removeItem(at: folder) } }
        let seedValue = seed ?? UInt64(Date().timeIntervalSince1970)
        var rng = SplitMix64(seed: seedValue)
        let db = folder.appending(path: "chaos.db").path
        let config = folder.appending(path: "ytauto.yaml").path
        try """
            channels:
              - name: chaos
                type: facts
                schedule: ["* * * * *"]
                missed_slots: all
                catch_up_window: 10m
                topic_recency_days: 0
                max_attempts: 1000
            """.write(toFile: config, atomically: true, encoding: .utf8)
        let env = ["YTAUTO_DB": db, "YTAUTO_CONFIG": config]
        let store = try SQLiteJobStore(path: db)
        for i in 0..<jobs { _ = try await store.enqueue(NewJob(channel: "chaos", topic: "job \(i)", maxAttempts: 1000, kind: .synthetic)) }
        print("ytauto-bench chaos: \(workers) workers × \(concurrency), \(jobs) jobs of 7 × \(stageMs) ms, \(kills) kills, seed \(seedValue)")

        let ytauto = Binaries.path("ytauto")
        let artifacts = folder.appending(path: "artifacts").path
        var roles = (0..<workers).map { _ in
            Role(name: "worker", args: ["worker", "--synthetic-stage-ms", String(stageMs), "--synthetic-artifacts", artifacts,
                                        "--concurrency", String(concurrency), "--lease-seconds", "30"])
        }
        roles.append(Role(name: "scheduler", args: ["scheduler", "--max-sleep", "1s"]))
        for i in roles.indices { roles[i].process = try Spawned(ytauto, roles[i].args, environment: env) }

        // Kills spread over the time the jobs should take without them.
        let expected = Double(jobs) * 7 * Double(stageMs) / 1000 / Double(workers * concurrency)
        let gap = max(0.05, expected / Double(max(1, kills)))
        var killLog: [(at: Date, workerID: String?, jobs: [Int64])] = []
        var sent = 0
        let started = Date()
        while sent < kills, try await remaining(store) > 0, Date().timeIntervalSince(started) < Double(timeout) {
            try await Task.sleep(for: .milliseconds(Int64(gap * Double.random(in: 0.5...1.5, using: &rng) * 1000)))
            let i = Int.random(in: roles.indices, using: &rng)
            guard let victim = roles[i].process else { continue }
            // The jobs it holds, read before the kill.
            let wid = try await store.workers().first { $0.pid == victim.pid && $0.state == .running }?.id
            let held = wid == nil ? [] : try await store.runningJobs().filter { $0.leaseOwner == wid }.map(\.id)
            kill(victim.pid, SIGKILL)
            let at = Date()
            _ = await victim.finish()
            if roles[i].name == "worker" { killLog.append((at, wid, held)) }
            sent += 1
            roles[i].process = try Spawned(ytauto, roles[i].args, environment: env)
        }
        // The scheduler stops (gracefully) so it adds no more slots; the workers finish the rest.
        if let s = roles.last?.process { kill(s.pid, SIGTERM); _ = await s.finish() }
        while try await remaining(store) > 0, Date().timeIntervalSince(started) < Double(timeout) {
            try await Task.sleep(for: .milliseconds(200))
        }
        let wall = Date().timeIntervalSince(started)
        for r in roles.dropLast() { if let p = r.process { kill(p.pid, SIGTERM); _ = await p.finish() } }

        // Checks.
        var failures: [String] = []
        func check(_ name: String, _ ok: Bool, _ detail: String) {
            print("\(ok ? "PASS" : "FAIL")  \(name): \(detail)")
            if !ok { failures.append(name) }
        }
        let raw = try RawSQLite(db)
        // The workers are diagnostic ones: they run the synthetic jobs; the scheduler's slots make
        // real (video) jobs, which they must leave alone.
        let total = Int(try raw.run("SELECT count(*) FROM jobs WHERE kind = 'synthetic'", [])[0][0]!)!
        let scheduled = Int(try raw.run("SELECT count(*) FROM jobs WHERE kind = 'video'", [])[0][0]!)!
        let states = try raw.run("SELECT state, count(*) FROM jobs WHERE kind = 'synthetic' GROUP BY state", [])
        let stateText = states.map { "\($0[0]!) \($0[1]!)" }.joined(separator: ", ")
        let succeededOnce = Int(try raw.run("""
            SELECT count(*) FROM jobs j WHERE j.state = 'succeeded' AND j.kind = 'synthetic'
               AND (SELECT count(*) FROM job_attempts a WHERE a.job_id = j.id AND a.outcome = 'succeeded') = 1
            """, [])[0][0]!)!
        print("")
        print("\(sent) kills in \(fmt(wall, 1)) s; diagnostic jobs: \(stateText); \(scheduled) real jobs made by the scheduler")
        check("exactly once", succeededOnce == total && total == jobs, "\(succeededOnce) of \(total) diagnostic jobs succeeded with exactly one succeeded attempt")
        let slots = Int(try raw.run("SELECT count(*) FROM schedule_slots WHERE decision = 'enqueued'", [])[0][0]!)!
        let untouched = Int(try raw.run("""
            SELECT count(*) FROM jobs j WHERE j.kind = 'video' AND j.state = 'queued'
               AND NOT EXISTS (SELECT 1 FROM job_attempts a WHERE a.job_id = j.id)
            """, [])[0][0]!)!
        check("real jobs left alone", untouched == scheduled && scheduled == slots,
              "\(slots) slots enqueued, \(scheduled) real jobs, \(untouched) of them queued and never leased by a diagnostic worker")
        let attempts = try raw.run("SELECT job_id, started_at, finished_at, outcome FROM job_attempts ORDER BY job_id, started_at, id", [])
        var overlaps = 0, unfinished = 0
        for (a, b) in zip(attempts, attempts.dropFirst()) where a[0] == b[0] {
            guard let end = a[2] else { unfinished += 1; continue }
            if end > b[1]! { overlaps += 1 }
        }
        check("no overlap", overlaps == 0 && unfinished == 0, "\(attempts.count) attempts, \(overlaps) overlapping, \(unfinished) left open before a later one")
        let stuck = Int(try raw.run("SELECT count(*) FROM jobs WHERE kind = 'synthetic' AND state IN ('queued', 'running')", [])[0][0]!)!
        check("none stuck", stuck == 0, "\(stuck) diagnostic jobs queued or running at the end")
        var bad = 0, verified = 0
        for job in try raw.run("SELECT artifacts FROM job_stages", []) {
            let list = (try? JSONDecoder().decode([Artifact].self, from: Data((job[0] ?? "[]").utf8))) ?? []
            for a in list {
                let ok = (try? Checksum.sha256Hex(fileAt: URL(fileURLWithPath: a.path))).map { $0.hex == a.sha256 && $0.bytes == a.bytes } ?? false
                if ok { verified += 1 } else { bad += 1 }
            }
        }
        check("artifacts intact", bad == 0 && verified > 0, "\(verified) recorded artifacts verify by size and SHA-256, \(bad) do not")
        let lost = Int(try raw.run("SELECT count(*) FROM job_attempts WHERE outcome = 'lost'", [])[0][0]!)!

        // Kill to re-lease: for each job a killed worker held, the next attempt's start after the kill.
        var delays: [Double] = []
        for k in killLog {
            for id in k.jobs {
                let next = try raw.run("SELECT min(started_at) FROM job_attempts WHERE job_id = ? AND started_at > ?", [id, Timestamp.string(k.at)])
                if let t = next.first?[0].flatMap({ $0 }).flatMap(Timestamp.date) { delays.append(t.timeIntervalSince(k.at)) }
            }
        }
        print("")
        print("\(lost) attempts lost to kills; kill → re-lease over \(delays.count) jobs: p50 \(fmt(percentile(delays, 50) * 1000, 0)) ms, "
            + "p90 \(fmt(percentile(delays, 90) * 1000, 0)) ms, p99 \(fmt(percentile(delays, 99) * 1000, 0)) ms, max \(fmt((delays.max() ?? 0) * 1000, 0)) ms (goal: p99 under 2000 ms)")
        if !failures.isEmpty { throw ExitCode(1) }
    }

    /// Diagnostic jobs not yet finished.
    func remaining(_ store: SQLiteJobStore) async throws -> Int {
        try await store.database.read { db in
            Int(try db.queryOne("SELECT count(*) AS n FROM jobs WHERE kind = 'synthetic' AND state IN ('queued', 'running')")?.int("n") ?? 0)
        }
    }
}
