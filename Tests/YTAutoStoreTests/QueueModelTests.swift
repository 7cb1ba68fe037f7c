import Foundation
import Testing
import Synchronization
import YTAutoCore
import YTAutoTestSupport
@testable import YTAutoStore
@testable import YTAutoPostgres

/// Random sequences of queue operations (enqueue with unique keys, lease, heartbeat, checkpoint,
/// fail of every kind, hand-back, cancel, dead and stopped workers, reclaim, prune, admin retry,
/// clock jumps) run against a real store and against ``QueueModel``, the documented rules; after
/// every step each job's row, the counts by state, the oldest due job and (for the jobs the step
/// touched) stages and attempts must agree, every write with a stale lease must be refused, and
/// every lease must take the job the rules name. A failing run is shrunk to a minimal sequence,
/// printed with the seed that replays it (`YTAUTO_MODEL_SEED`).
@Suite struct QueueModelTests {
    /// The SQLite store on a fresh file. A killed worker's lock is dropped and its file left behind,
    /// as the kernel leaves them after SIGKILL (the multi-process tests kill real processes).
    static let sqlite: QueueEngineFactory = { clock, policy in
        let dir = TempDir("ytauto-model")
        let store = try SQLiteJobStore(path: dir.path("jobs.db"), retryPolicy: policy, clock: clock)
        let workers = Registrations<WorkerRegistration>()
        return QueueEngine(
            store: store,
            startWorker: { id in workers.add(try await store.registerWorker(id: id)) },
            killWorker: { id in
                guard let r = workers.remove(id) else { return }
                // Keep the file across release() (which removes it), as a killed process leaves it.
                let kept = r.lock.path + ".kept"
                link(r.lock.path, kept)
                r.lock.release()
                rename(kept, r.lock.path)
                // The kernel frees a killed process's lock at once; here a child process that another
                // test forks at this moment can hold the lock's file description until it execs
                // (close-on-exec), and a reclaim meanwhile would rightly see the worker alive. The
                // model's step is "the lock is free": wait until it is (as the kernel's would be).
                let deadline = ContinuousClock.now + .seconds(10)
                while !WorkerLock.isAbandoned(path: r.lock.path), ContinuousClock.now < deadline {
                    try await Task.sleep(for: .milliseconds(5))
                }
            },
            stopWorker: { id in
                guard let r = workers.remove(id) else { return }
                try await store.deregisterWorker(r)
            },
            workerStates: { try await workerStates(store) },
            keepAlive: [dir, workers] as [any Sendable])
    }

    /// The PostgreSQL store on a database of its own. A killed worker's session ends (as the server
    /// ends a dead process's session), and the step waits until `pg_locks` shows its lock free.
    static let postgres: QueueEngineFactory = { clock, policy in
        let url = try PostgresURL(try await PostgresServer.server().createDatabase(prefix: "model"))
        let store = try await PostgresJobStore(url: url, retryPolicy: policy, maximumConnections: 4, clock: clock)
        // A window of two first jobs, so that the model's small queues take both of the lease's
        // ways (PostgresJobStore.LeasePick): the window, and the lanes when it holds none to lease.
        store.leaseWindow.withLock { $0 = 2 }
        let workers = Registrations<PostgresWorkerSession>()
        return QueueEngine(
            store: store,
            startWorker: { id in workers.add(try await store.registerWorker(id: id)) },
            killWorker: { id in
                guard let r = workers.remove(id) else { return }
                await r.stop()
                let record = try #require(try await store.workers().first { $0.id == id })
                let deadline = ContinuousClock.now + .seconds(10)
                while try await store.isAbandoned(record) != true, ContinuousClock.now < deadline {
                    try await Task.sleep(for: .milliseconds(5))
                }
            },
            stopWorker: { id in
                guard let r = workers.remove(id) else { return }
                try await store.deregisterWorker(r)
            },
            workerStates: { try await workerStates(store) },
            keepAlive: [workers, Closer(store)] as [any Sendable])
    }

    /// Each worker's state as the registry lists it (``WorkerStore/workers()``), kept only where
    /// reading that worker by its id (``WorkerStore/worker(id:)``) gives the same record: a
    /// disagreement shows as a worker missing from the model's comparison. An id no worker has
    /// reads as none.
    static func workerStates<S: WorkerStore>(_ store: S) async throws -> [String: WorkerRecord.State] {
        var states: [String: WorkerRecord.State] = [:]
        for record in try await store.workers() where try await store.worker(id: record.id) == record {
            states[record.id] = record.state
        }
        #expect(try await store.worker(id: "no-such-worker") == nil)
        return states
    }

    /// Closes a PostgreSQL store's pool when the engine is dropped.
    final class Closer: Sendable {
        let store: PostgresJobStore
        init(_ store: PostgresJobStore) { self.store = store }
        deinit { store.close() }
    }

    /// The live registrations of an engine's workers, by id.
    final class Registrations<R: WorkerRegistrationRecord>: @unchecked Sendable {
        // `@unchecked` is safe: `byID` is only touched under `lock`.
        private let lock = NSLock()
        private var byID: [String: R] = [:]
        func add(_ r: R) { lock.withLock { byID[r.id] = r } }
        func remove(_ id: String) -> R? { lock.withLock { byID.removeValue(forKey: id) } }
    }

    /// A setting of the run from the environment, or its default. A value that does not parse is an
    /// error, not a silent default: a replay with a mistyped seed would test something else.
    static func setting<T>(_ name: String, default value: @autoclosure () -> T, _ parse: (String) -> T?) throws -> T {
        guard let text = ProcessInfo.processInfo.environment[name] else { return value() }
        guard let parsed = parse(text) else { throw BadSetting(name: name, value: text) }
        return parsed
    }

    struct BadSetting: Error, CustomStringConvertible {
        var name: String
        var value: String
        var description: String { "\(name)=\(value) is not a whole number in range (a seed is 0 to \(UInt64.max); runs and steps are at least 1)" }
    }

    /// The seed: `YTAUTO_MODEL_SEED` if set, else a random one. `YTAUTO_MODEL_RUNS` and
    /// `YTAUTO_MODEL_STEPS` set how many sequences of how many steps (300 of 50).
    static func settings() throws -> (seed: UInt64, runs: Int, steps: Int) {
        (try setting("YTAUTO_MODEL_SEED", default: UInt64.random(in: 0...UInt64.max)) { UInt64($0) },
         try setting("YTAUTO_MODEL_RUNS", default: 300) { Int($0).flatMap { $0 > 0 ? $0 : nil } },
         try setting("YTAUTO_MODEL_STEPS", default: 50) { Int($0).flatMap { $0 > 0 ? $0 : nil } })
    }

    /// The steps of sequence `index` of a run seeded with `seed`.
    static func sequence(seed: UInt64, index: Int, steps: Int) -> [QueueModelStep] {
        // The sequence's own seed is drawn, not added: SplitMix64 steps its state by a constant, so
        // seeds a multiple of it apart would give one stream shifted by a step.
        var seeds = SplitMix64(seed: seed ^ UInt64(index))
        var g = SplitMix64(seed: seeds.next())
        return (0..<steps).map { _ in QueueModelStep.random(using: &g) }
    }

    /// Runs `runs` random sequences on `engine`; on the first that fails, shrinks it and returns the report.
    static func check(
        _ engine: @escaping QueueEngineFactory, name: String, seed: UInt64, runs: Int, steps: Int, coverage: QueueModelRunner.Coverage? = nil
    ) async -> String? {
        for index in 0..<runs {
            let sequence = sequence(seed: seed, index: index, steps: steps)
            guard let first = await QueueModelRunner.run(sequence, on: engine, coverage: coverage) else { continue }
            let (minimal, failure) = await QueueModelRunner.shrink(sequence, first, on: engine)
            return """
                \(name) and the model disagree. Seed \(seed) (replay: YTAUTO_MODEL_SEED=\(seed)), sequence \(index + 1) of \(runs), \
                \(sequence.count) steps; first: \(first)
                minimal sequence (\(minimal.count) steps):
                \(minimal.enumerated().map { "  \($0.offset + 1). \($0.element)" }.joined(separator: "\n"))
                its disagreement: \(failure)
                """
        }
        return nil
    }

    /// The same rules on PostgreSQL (where its server is installed; in CI always). Fewer sequences
    /// by default: each step is a few round trips to a server, not a call into a library.
    @Test(.enabled(if: PostgresServer.available, "PostgreSQL is not installed here (bash .ci/deps installs it)"))
    func thePostgreSQLStoreFollowsTheDocumentedRules() async throws {
        let (seed, runs, steps) = try Self.settings()
        let pgRuns = ProcessInfo.processInfo.environment["YTAUTO_MODEL_RUNS"] == nil ? 40 : runs
        print("queue model (postgres): seed \(seed) (YTAUTO_MODEL_SEED), \(pgRuns) sequences of \(steps) steps")
        let started = ContinuousClock.now
        if let report = await Self.check(Self.postgres, name: "PostgresJobStore", seed: seed, runs: pgRuns, steps: steps) {
            Issue.record(Comment(rawValue: report))
            return
        }
        print("queue model (postgres): \(pgRuns) sequences in \(ContinuousClock.now - started)")
    }

    @Test func theSQLiteStoreFollowsTheDocumentedRules() async throws {
        let (seed, runs, steps) = try Self.settings()
        print("queue model: seed \(seed) (YTAUTO_MODEL_SEED), \(runs) sequences of \(steps) steps")
        let started = ContinuousClock.now
        let coverage = QueueModelRunner.Coverage()
        if let report = await Self.check(Self.sqlite, name: "SQLiteJobStore", seed: seed, runs: runs, steps: steps, coverage: coverage) {
            Issue.record(Comment(rawValue: report))
            return
        }
        print("queue model: \(runs) sequences in \(ContinuousClock.now - started); \(coverage.summary)")
        // The runs did reach every rule (a generator that stopped making some step would pass
        // silently). These events come forty times or more in a run of the default size; rarer ones,
        // such as a backoff at its cap, are in the summary above. A run made small by hand is exempt.
        guard runs >= 300, steps >= 50 else { return }
        for event in ["lease: a job run before", "heartbeat: refused by the fence", "complete: refused by the fence", "fail: backoff",
                      "fail: failed", "fail: parked, no attempt spent", "hand-back: accepted", "reclaim: dead workers",
                      "reclaim: jobs freed", "prune: jobs deleted", "enqueue: key taken", "retry: accepted", "cancel: requested",
                      "hold for review: accepted", "approve: accepted", "reject: accepted",
                      "complete then lease: refused by the fence", "complete-then-lease: a new job"] {
            #expect(coverage.count(event) > 0, "no step of the runs reached \(event)")
        }
    }
}
