import ArgumentParser
import Foundation
import YTAutoCore
import YTAutoPostgres
import YTAutoStore

/// `ytauto-bench chaos`: SIGKILL workers and the scheduler at random while jobs run, restart
/// them, and check that nothing was lost, duplicated, overlapped, stuck or corrupted.
struct ChaosBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "chaos",
        abstract: "Kill workers and the scheduler with SIGKILL at random while jobs run; check every job ends exactly once.",
        discussion: """
            Runs real `ytauto worker` processes (diagnostic pipeline: every stage sleeps --stage-ms and writes a \
            checksummed file) and a `ytauto scheduler`, kills one of them every so often with SIGKILL (a worker \
            once it holds a job, waited for up to 3 s) and restarts it. Then checks: every job succeeded exactly once; no two attempts of a job overlapped; \
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

    @Option(help: ArgumentHelp("A postgres:// URL: run against a database of its own on that server (<db>_bench_chaos, created and dropped; the role needs CREATEDB) instead of a SQLite file.", valueName: "url"))
    var db: String?

    func validate() throws {
        guard (1...64).contains(workers) else { throw ValidationError("--workers must be within 1...64") }
        guard (1...1_000_000).contains(jobs) else { throw ValidationError("--jobs must be within 1...1000000") }
        guard (0...100_000).contains(kills) else { throw ValidationError("--kills must be within 0...100000") }
        guard (0...60_000).contains(stageMs) else { throw ValidationError("--stage-ms must be within 0...60000") }
        guard (1...256).contains(concurrency) else { throw ValidationError("--concurrency must be within 1...256") }
        guard (1...86_400).contains(timeout) else { throw ValidationError("--timeout must be within 1...86400 seconds") }
        if let db, !PostgresURL.isPostgres(db) { throw ValidationError("--db takes a postgres:// URL (SQLite runs need no --db)") }
    }

    struct Role {
        var name: String
        var args: [String]
        var process: Spawned?
    }

    /// The diagnostic jobs' channel; the scheduler's (real) jobs are the configured channel's.
    static let diagnostic = "chaos-diagnostic"

    func run() async throws {
        let folder = dir.map { URL(fileURLWithPath: $0) } ?? FileManager.default.temporaryDirectory.appending(path: "ytauto-chaos-\(getpid())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { if dir == nil { try? FileManager.default.removeItem(at: folder) } }
        // The store: a SQLite file in the folder, or a database of its own on the PostgreSQL server.
        let store: any OperatorStore
        let dbText: String
        var pgTarget: (target: PostgresURL, server: PostgresURL)?
        if let db {
            let server = try PostgresURL(db)
            let target = try await createBenchDatabase(beside: server, name: "chaos")
            pgTarget = (target, server)
            store = try await PostgresJobStore(url: target)
            dbText = benchURLText(target)
        } else {
            dbText = folder.appending(path: "chaos.db").path
            store = try SQLiteJobStore(path: dbText)
        }
        do {
            try await run(store: store, db: dbText, folder: folder)
        } catch {
            if let pg = pgTarget { (store as? PostgresJobStore)?.close(); try? await dropBenchDatabase(pg.target, via: pg.server) }
            throw error
        }
        if let pg = pgTarget { (store as? PostgresJobStore)?.close(); try await dropBenchDatabase(pg.target, via: pg.server) }
    }

    func run(store: any OperatorStore, db: String, folder: URL) async throws {
        let seedValue = seed ?? UInt64(Date().timeIntervalSince1970)
        var rng = SplitMix64(seed: seedValue)
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
        var ids: [Int64] = []
        for i in 0..<jobs {
            ids.append(try await store.enqueue(NewJob(channel: Self.diagnostic, topic: "job \(i)", maxAttempts: 1000, kind: .synthetic)).job.id)
        }
        print("ytauto-bench chaos on \(db.hasPrefix("/") ? "SQLite" : "PostgreSQL"): \(workers) workers × \(concurrency), \(jobs) jobs of 7 × \(stageMs) ms, \(kills) kills, seed \(seedValue)")

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
            // The jobs it holds, read before the kill. A worker is killed holding one: a fresh worker
            // is waited for (up to 3 s) until it has leased, so the kill costs a running attempt
            // (on a busy machine a new worker can take longer than the gap to start leasing).
            var wid: String?, held: [Int64] = []
            let patience = Date().addingTimeInterval(roles[i].name == "worker" ? 3 : 0)
            while true {
                wid = try await store.workers().first { $0.pid == victim.pid && $0.state == .running }?.id
                held = wid == nil ? [] : try await store.runningJobs().filter { $0.leaseOwner == wid }.map(\.id)
                guard held.isEmpty, Date() < patience, try await remaining(store) > 0 else { break }
                try await Task.sleep(for: .milliseconds(50))
            }
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

        // Checks, read through the store's contract, so they mean the same on either engine.
        var failures: [String] = []
        func check(_ name: String, _ ok: Bool, _ detail: String) {
            print("\(ok ? "PASS" : "FAIL")  \(name): \(detail)")
            if !ok { failures.append(name) }
        }
        var states: [JobState: Int] = [:]
        var succeededOnce = 0, overlaps = 0, unfinished = 0, attemptCount = 0, stuck = 0, lost = 0
        var bad = 0, verified = 0
        var attemptsByJob: [Int64: [AttemptRecord]] = [:]
        for id in ids {
            guard let job = try await store.job(id: id) else { continue }
            states[job.state, default: 0] += 1
            // Oldest first by start, as the run history orders them.
            let attempts = try await store.attempts(jobID: id).sorted { ($0.startedAt, $0.id) < ($1.startedAt, $1.id) }
            attemptsByJob[id] = attempts
            attemptCount += attempts.count
            lost += attempts.filter { $0.outcome == .lost }.count
            if job.state == .succeeded && attempts.filter({ $0.outcome == .succeeded }).count == 1 { succeededOnce += 1 }
            if job.state == .queued || job.state == .running { stuck += 1 }
            for (a, b) in zip(attempts, attempts.dropFirst()) {
                guard let end = a.finishedAt else { unfinished += 1; continue }
                if end > b.startedAt { overlaps += 1 }
            }
            for stage in try await store.stages(jobID: id) {
                for a in stage.artifacts {
                    let ok = (try? Checksum.sha256Hex(fileAt: URL(fileURLWithPath: a.path))).map { $0.hex == a.sha256 && $0.bytes == a.bytes } ?? false
                    if ok { verified += 1 } else { bad += 1 }
                }
            }
        }
        let found = states.values.reduce(0, +)
        let stateText = states.sorted { $0.key.rawValue < $1.key.rawValue }.map { "\($0.key.rawValue) \($0.value)" }.joined(separator: ", ")
        let slots = try await store.slots(channel: "chaos", limit: 1_000_000).filter { $0.decision == "enqueued" }
        var untouched = 0
        for slot in slots {
            guard let id = slot.jobID, let job = try await store.job(id: id) else { continue }
            let neverLeased = try await store.attempts(jobID: id).isEmpty
            if job.kind == .video && job.state == .queued && neverLeased { untouched += 1 }
        }
        print("")
        print("\(sent) kills in \(fmt(wall, 1)) s; diagnostic jobs: \(stateText); \(slots.count) real jobs made by the scheduler")
        check("exactly once", succeededOnce == found && found == jobs, "\(succeededOnce) of \(found) diagnostic jobs succeeded with exactly one succeeded attempt")
        // The workers are diagnostic ones: they run the synthetic jobs; the scheduler's slots make
        // real (video) jobs, which they must leave alone.
        check("real jobs left alone", untouched == slots.count,
              "\(slots.count) slots enqueued real jobs, \(untouched) of them queued and never leased by a diagnostic worker")
        check("no overlap", overlaps == 0 && unfinished == 0, "\(attemptCount) attempts, \(overlaps) overlapping, \(unfinished) left open before a later one")
        check("none stuck", stuck == 0, "\(stuck) diagnostic jobs queued or running at the end")
        check("artifacts intact", bad == 0 && verified > 0, "\(verified) recorded artifacts verify by size and SHA-256, \(bad) do not")

        // Kill to re-lease: for each job a killed worker held, the next attempt's start after the kill.
        var delays: [Double] = []
        for k in killLog {
            for id in k.jobs {
                if let next = attemptsByJob[id]?.map(\.startedAt).filter({ $0 > k.at }).min() { delays.append(next.timeIntervalSince(k.at)) }
            }
        }
        print("")
        print("\(lost) attempts lost to kills; kill → re-lease over \(delays.count) jobs: p50 \(fmt(percentile(delays, 50) * 1000, 0)) ms, "
            + "p90 \(fmt(percentile(delays, 90) * 1000, 0)) ms, p99 \(fmt(percentile(delays, 99) * 1000, 0)) ms, max \(fmt((delays.max() ?? 0) * 1000, 0)) ms (goal: p99 under 2000 ms)")
        if !failures.isEmpty { throw ExitCode(1) }
    }

    /// Diagnostic jobs not yet finished (the store's job counts, by channel and state).
    func remaining(_ store: any OperatorStore) async throws -> Int {
        let counts = try await store.stats().counts[Self.diagnostic] ?? [:]
        return (counts[.queued] ?? 0) + (counts[.running] ?? 0)
    }
}
