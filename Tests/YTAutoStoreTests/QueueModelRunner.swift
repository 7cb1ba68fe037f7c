import Foundation
import YTAutoCore
import YTAutoStore

/// Runs steps against a store and the model together and compares every observable after each.
final class QueueModelRunner {
    /// Where a store and the model first disagreed.
    struct Disagreement: Error, CustomStringConvertible {
        /// The 0-based step, or `nil` for the checks after the last step.
        var step: Int?
        var what: String
        var description: String { (step.map { "after step \($0 + 1)" } ?? "after the last step") + ": " + what }
    }

    /// A clock in whole milliseconds that the run moves by hand.
    final class Clock: @unchecked Sendable {
        // `@unchecked` is safe: `ms` is only touched under `lock`.
        private let lock = NSLock()
        private var ms: Int64
        init(ms: Int64) { self.ms = ms }
        var now: Date { lock.withLock { Clock.date(ms) } }
        func set(_ value: Int64) { lock.withLock { ms = value } }
        static func date(_ ms: Int64) -> Date { Date(timeIntervalSince1970: Double(ms) / 1000) }
    }

    /// What the runs did, by event, so a run that passes can show it exercised the rules.
    final class Coverage: @unchecked Sendable {
        // `@unchecked` is safe: `counts` is only touched under `lock`.
        private let lock = NSLock()
        private var counts: [String: Int] = [:]
        func add(_ event: String) { lock.withLock { counts[event, default: 0] += 1 } }
        var summary: String { lock.withLock { counts.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ") } }
        func count(_ event: String) -> Int { lock.withLock { counts[event, default: 0] } }
    }

    static let start: Int64 = 1_800_000_000_000
    static let policy = RetryPolicy(base: .seconds(10), cap: .seconds(15))

    let engine: QueueEngine
    let clock: Clock
    var model: QueueModel
    /// Every lease taken, the model's and the store's, oldest first.
    var leases: [(model: QueueModel.Lease, store: Lease)] = []
    /// Each worker slot's current process number; a killed or stopped worker's slot gets a new id.
    var incarnation = [Int](repeating: 0, count: QueueModelStep.slots)
    /// The highest job id seen, for an id no job has.
    var highestID: Int64 = 0
    /// Jobs the step may have changed beyond their row: their stages and attempts are compared too.
    var touched: Set<Int64> = []
    var stepIndex: Int?
    let coverage: Coverage?

    private init(engine: QueueEngine, clock: Clock, coverage: Coverage?) {
        self.engine = engine
        self.clock = clock
        self.coverage = coverage
        self.model = QueueModel(now: Self.start, policy: Self.policy)
    }

    /// Runs `steps` on a fresh engine; the first disagreement, or `nil` if store and model agreed throughout.
    static func run(_ steps: [QueueModelStep], on factory: QueueEngineFactory, coverage: Coverage? = nil) async -> Disagreement? {
        let clock = Clock(ms: start)
        let engine: QueueEngine
        do { engine = try await factory({ clock.now }, policy) } catch { return Disagreement(step: nil, what: "the engine did not start: \(error)") }
        let runner = QueueModelRunner(engine: engine, clock: clock, coverage: coverage)
        do {
            for slot in 0..<QueueModelStep.slots { try await runner.startWorker(slot) }
            for (i, step) in steps.enumerated() {
                runner.stepIndex = i
                runner.touched = []
                try await runner.apply(step)
                try await runner.compareAll(deep: false)
            }
            runner.stepIndex = nil
            try await runner.compareAll(deep: true)
            try await runner.drain()
        } catch let d as Disagreement {
            return d
        } catch {
            return Disagreement(step: runner.stepIndex, what: "the store threw where the model expected success: \(error)")
        }
        return nil
    }

    // MARK: - Checks

    func note(_ event: String) { coverage?.add(event) }

    func check(_ condition: Bool, _ what: @autoclosure () -> String) throws {
        if !condition { throw Disagreement(step: stepIndex, what: what()) }
    }

    static func ms(_ date: Date) -> Int64 { QueueModel.ms(date: date) }

    /// The fields of a stored job that differ from the model's.
    func differences(_ s: Job, _ m: QueueModel.Job) -> [String] {
        var out: [String] = []
        func field<T: Equatable>(_ name: String, _ store: T, _ model: T) {
            if store != model { out.append("\(name): store \(store), model \(model)") }
        }
        field("channel", s.channel, m.channel)
        field("kind", s.kind, m.kind)
        field("priority", s.priority, m.priority)
        field("state", s.state, m.state)
        field("attempt", s.attempt, m.attempt)
        field("max_attempts", s.maxAttempts, m.maxAttempts)
        field("run_at", Self.ms(s.runAt), m.runAt)
        field("scheduled_at", s.scheduledAt.map(Self.ms), Optional(m.scheduledAt))
        field("lease_owner", s.leaseOwner, m.leaseOwner)
        field("lease_token", s.leaseToken, m.leaseToken)
        field("lease_expires_at", s.leaseExpiresAt.map(Self.ms), m.leaseExpiresAt)
        field("cancel_requested", s.cancelRequested, m.cancelRequested)
        field("current_stage", s.currentStage, m.currentStage)
        field("unique_key", s.uniqueKey, m.uniqueKey)
        field("last_error_code", s.lastErrorCode, m.lastErrorCode)
        field("finished_at", s.finishedAt.map(Self.ms), m.finishedAt)
        return out
    }

    func expectSame(_ s: Job, _ what: String) throws {
        guard let m = model.jobs[s.id] else { throw Disagreement(step: stepIndex, what: "\(what): job \(s.id) is not in the model") }
        let d = differences(s, m)
        try check(d.isEmpty, "\(what), job \(s.id): " + d.joined(separator: "; "))
    }

    /// Every job's row, the counts by channel and state and the oldest due job; with `deep` (or for
    /// the jobs the step touched) stages and attempts; with `deep` the workers too.
    func compareAll(deep: Bool) async throws {
        let store = engine.store
        for id in model.jobs.keys.sorted() {
            guard let job = try await store.job(id: id) else {
                throw Disagreement(step: stepIndex, what: "job \(id) is gone from the store but in the model (\(model.jobs[id]!.state))")
            }
            try expectSame(job, "the job's row")
            guard deep || touched.contains(id) else { continue }
            let stages = try await store.stages(jobID: id)
            let stageStates = Dictionary(stages.map { ($0.stage, $0.state) }, uniquingKeysWith: { a, _ in a })
            try check(stageStates == model.jobs[id]!.stages && stages.count == stageStates.count,
                      "job \(id) stages: store \(stageStates), model \(model.jobs[id]!.stages)")
            let attempts = try await store.attempts(jobID: id).map { QueueModel.Attempt(outcome: $0.outcome, errorCode: $0.errorCode) }
            try check(attempts == model.jobs[id]!.attempts, "job \(id) attempts: store \(attempts), model \(model.jobs[id]!.attempts)")
        }
        let stats = try await store.stats()
        try check(stats.counts == model.counts, "counts by channel and state: store \(stats.counts), model \(model.counts)")
        try check(stats.oldestDueQueuedAt.map(Self.ms) == model.oldestDue,
                  "oldest due job: store \(String(describing: stats.oldestDueQueuedAt.map(Self.ms))), model \(String(describing: model.oldestDue))")
        if deep {
            // list-failed and history, with and without a channel.
            for channel in [nil] + QueueModelStep.channels.map(Optional.some) {
                let failed = try await store.listFailed(channel: channel, since: nil, limit: 1_000)
                let expected = model.jobs.values.filter { $0.state == .failed && (channel == nil || $0.channel == channel) }
                try check(Set(failed.map(\.id)) == Set(expected.map(\.id)) && failed.count == expected.count,
                          "list-failed \(channel ?? "(all)"): store \(failed.map(\.id)), model \(expected.map(\.id).sorted())")
                let finished = failed.compactMap(\.finishedAt)
                try check(finished.count == failed.count && zip(finished, finished.dropFirst()).allSatisfy { $0 >= $1 },
                          "list-failed \(channel ?? "(all)") is not newest first: \(finished)")
                // By the last error's code, including a code no job has.
                for code in Set(expected.compactMap { $0.attempts.last?.errorCode }).union(["no.such_code"]) {
                    let byCode = try await store.listFailed(channel: channel, code: code, since: nil, limit: 1_000)
                    let expectedByCode = expected.filter { $0.attempts.last?.errorCode == code }
                    try check(Set(byCode.map(\.id)) == Set(expectedByCode.map(\.id)) && byCode.count == expectedByCode.count,
                              "list-failed \(channel ?? "(all)") --code \(code): store \(byCode.map(\.id)), model \(expectedByCode.map(\.id).sorted())")
                    let at = byCode.compactMap(\.finishedAt)
                    try check(zip(at, at.dropFirst()).allSatisfy { $0 >= $1 }, "list-failed --code \(code) is not newest first: \(at)")
                }
                let history = try await store.history(channel: channel, limit: 10_000)
                let attempts = model.jobs.values.filter { channel == nil || $0.channel == channel }.map(\.attempts.count).reduce(0, +)
                try check(history.count == attempts, "history \(channel ?? "(all)"): store \(history.count) attempts, model \(attempts)")
            }
            let workers = try await engine.workerStates()
            let expected = model.workers.mapValues { $0.state }
            try check(workers == expected, "workers: store \(workers), model \(expected)")
        }
    }

    /// Leases every due job in turn: the store must hand them out in the model's order, then none.
    func drain() async throws {
        for kind in JobKind.allCases {
            for _ in 0...model.jobs.count {
                let expected = model.next(channels: nil, kind: kind)
                let got = try await engine.store.lease(worker: "drain", channels: nil, kind: kind, pipeline: "model", duration: .seconds(30))
                try check(got?.jobID == expected, "draining \(kind.rawValue) jobs, lease took \(String(describing: got?.jobID)); "
                          + "the model's next is \(String(describing: expected)) of \(queueDescription(kind))")
                guard let expected else { break }
                _ = model.lease(expected, owner: "drain", durationMS: 30_000)
            }
        }
    }

    /// The queued jobs of a kind in the model, for messages.
    func queueDescription(_ kind: JobKind) -> String {
        let queued = model.jobs.values.filter { $0.state == .queued && $0.kind == kind }.sorted { $0.id < $1.id }
        return "queued " + queued.map { "#\($0.id)(\($0.channel) p\($0.priority) due \($0.runAt - model.now)ms)" }.joined(separator: " ")
    }

    // MARK: - Steps

    func workerID(_ slot: Int) -> String {
        slot < incarnation.count ? "w\(slot).\(incarnation[slot])" : "unregistered"
    }

    func startWorker(_ slot: Int) async throws {
        let id = workerID(slot)
        try await engine.startWorker(id)
        model.workers[id] = (.running, true)
    }

    /// The k-th newest lease taken, if any.
    func lease(_ k: Int) -> (model: QueueModel.Lease, store: Lease)? {
        leases.isEmpty ? nil : leases[leases.count - 1 - k % leases.count]
    }

    /// A job id by position: the k-th job of the model, or (one time in n+1) an id no job has.
    func jobID(_ k: Int) -> Int64 {
        let ids = model.jobs.keys.sorted()
        return k % (ids.count + 1) < ids.count ? ids[k % (ids.count + 1)] : highestID + 1_000
    }

    /// Runs a write under `lease`: where the model says the fence holds, the store must accept it;
    /// where the lease was taken over or ended, the store must refuse it with `LeaseLost` saying
    /// what the row is now, and change nothing (the comparison after the step checks that).
    func fenced<T>(_ lease: (model: QueueModel.Lease, store: Lease), _ name: String, _ write: () async throws -> T) async throws -> T? {
        touched.insert(lease.model.jobID)
        if model.holds(lease.model) { note("\(name): accepted"); return try await write() }
        note("\(name): refused by the fence")
        do {
            _ = try await write()
        } catch let lost as LeaseLost {
            let job = model.jobs[lease.model.jobID]
            try check(lost.jobID == lease.model.jobID && lost.currentState == job?.state && lost.currentOwner == job?.leaseOwner
                      && (job == nil || lost.currentToken == job?.leaseToken),
                      "\(name) refused, but LeaseLost says \(lost); the model's row is \(String(describing: job.map { "\($0.state) \($0.leaseOwner ?? "-") token \($0.leaseToken)" }))")
            return nil
        }
        throw Disagreement(step: stepIndex, what: "\(name) with a lease the fence must refuse (job \(lease.model.jobID) token \(lease.model.token) of \(lease.model.owner)) was accepted")
    }

    /// Checks a lease the store made (`got`) against the model's next job, and records it in both.
    func checkLease(_ got: Lease?, expected: Int64?, owner: String, channels: [String]?, kind: JobKind, seconds: Int, _ what: String) throws {
        try check(got?.jobID == expected, "\(what) (\(kind.rawValue), channels \(String(describing: channels))) took "
                  + "\(String(describing: got?.jobID)); the model's next is \(String(describing: expected)) of \(queueDescription(kind))")
        guard let got, let expected else { note("\(what): none due"); return }
        note(model.jobs[expected]!.attempt > 0 ? "\(what): a job run before" : "\(what): a new job")
        let lease = model.lease(expected, owner: owner, durationMS: Int64(seconds) * 1000)
        try check(got.token == lease.token && got.owner == owner && got.attempt == model.jobs[expected]!.attempt
                  && Self.ms(got.expiresAt) == model.now + Int64(seconds) * 1000,
                  "lease of job \(expected): token \(got.token) attempt \(got.attempt) until \(Self.ms(got.expiresAt)); model token "
                  + "\(lease.token) attempt \(model.jobs[expected]!.attempt) until \(model.now + Int64(seconds) * 1000)")
        try expectSame(got.job, "\(what)'s answer")
        leases.append((lease, got))
        touched.insert(expected)
    }

    func apply(_ step: QueueModelStep) async throws {
        let store = engine.store
        let now = clock.now
        switch step {
        case .enqueue(let c, let priority, let due, let maxAttempts, let key, let synthetic):
            let new = NewJob(channel: QueueModelStep.channels[c], priority: priority, runAt: due.map { Clock.date(model.now + $0) },
                             maxAttempts: maxAttempts, uniqueKey: key.map { "k\($0)" }, kind: synthetic ? .synthetic : .video)
            let result = try await store.enqueue(new)
            if let existing = model.existing(key: new.uniqueKey) {
                note("enqueue: key taken")
                try check(!result.inserted && result.job.id == existing,
                          "key \(new.uniqueKey!) names job \(existing); the store \(result.inserted ? "inserted" : "returned") job \(result.job.id)")
            } else {
                try check(result.inserted, "a free key \(new.uniqueKey ?? "(none)"): the store returned job \(result.job.id) as existing")
                try check(result.job.id > (model.jobs.keys.max() ?? 0), "new job id \(result.job.id) is not above every live id")
                model.insert(id: result.job.id, new)
            }
            highestID = max(highestID, result.job.id)
            touched.insert(result.job.id)
            try expectSame(result.job, "enqueue's answer")

        case .lease(let slot, let cs, let synthetic, let seconds):
            let owner = workerID(slot)
            let channels = cs.map { $0.map { QueueModelStep.channels[$0] } }
            let kind: JobKind = synthetic ? .synthetic : .video
            let expected = model.next(channels: channels, kind: kind)
            let got = try await store.lease(worker: owner, channels: channels, kind: kind, pipeline: "model", duration: .seconds(seconds))
            try checkLease(got, expected: expected, owner: owner, channels: channels, kind: kind, seconds: seconds, "lease")

        case .completeThenLease(let k, let cs, let synthetic, let seconds):
            guard let l = lease(k) else { return }
            let channels = cs.map { $0.map { QueueModelStep.channels[$0] } }
            let kind: JobKind = synthetic ? .synthetic : .video
            let request = LeaseRequest(worker: l.store.owner, channels: channels, kind: kind, pipeline: "model", duration: .seconds(seconds))
            guard let completion = try await fenced(l, "complete then lease", { try await store.complete(l.store, thenLease: request) })
            else { return }
            model.complete(l.model)
            try expectSame(completion.job, "complete-then-lease's completed job")
            try checkLease(completion.next, expected: model.next(channels: channels, kind: kind), owner: l.store.owner,
                           channels: channels, kind: kind, seconds: seconds, "complete-then-lease")

        case .heartbeat(let k, let seconds):
            guard let l = lease(k) else { return }
            guard let status = try await fenced(l, "heartbeat", { try await store.heartbeat(l.store, duration: .seconds(seconds)) }) else { return }
            let until = model.now + Int64(seconds) * 1000
            let cancel = model.heartbeat(l.model, durationMS: Int64(seconds) * 1000)
            let expected: HeartbeatStatus = cancel ? .cancelRequested(until: Clock.date(until)) : .held(until: Clock.date(until))
            let same = switch (status, expected) {
            case (.held(let a), .held(let b)), (.cancelRequested(let a), .cancelRequested(let b)): Self.ms(a) == Self.ms(b)
            default: false
            }
            try check(same, "heartbeat answered \(status), the model \(expected)")

        case .checkpoint(let k, let stage, let state):
            guard let l = lease(k) else { return }
            let name = QueueModelStep.stages[stage]
            guard try await fenced(l, "checkpoint", {
                try await store.checkpoint(l.store, stage: name, state: state, artifacts: [], startedAt: now, error: nil)
            }) != nil else { return }
            model.checkpoint(l.model, stage: name, state: state)

        case .complete(let k):
            guard let l = lease(k), let job = try await fenced(l, "complete", { try await store.complete(l.store) }) else { return }
            model.complete(l.model)
            try expectSame(job, "complete's answer")

        case .fail(let k, let kind):
            guard let l = lease(k) else { return }
            let failure = kind.failure(now: now)
            let plan = model.holds(l.model) ? model.plan(l.model, failure) : nil
            guard let job = try await fenced(l, "fail (\(kind.rawValue))", { try await store.fail(l.store, error: failure) }), let plan else { return }
            note("fail: \(plan.event)")
            if case .backoff(let bounds) = plan {
                let delay = Self.ms(job.runAt) - model.now
                try check(bounds.contains(delay), "after attempt \(job.attempt) the backoff was \(delay) ms; the rules allow \(bounds) ms")
            }
            model.fail(l.model, failure, plan: plan, runAt: Self.ms(job.runAt))
            try expectSame(job, "fail's answer (\(kind.rawValue))")

        case .handBack(let k):
            guard let l = lease(k), let job = try await fenced(l, "hand-back", { try await store.handBack(l.store) }) else { return }
            model.handBack(l.model)
            try expectSame(job, "hand-back's answer")

        case .markCancelled(let k):
            guard let l = lease(k), let job = try await fenced(l, "mark cancelled", { try await store.markCancelled(l.store) }) else { return }
            model.markCancelled(l.model)
            try expectSame(job, "mark-cancelled's answer")

        case .cancel(let k):
            let id = jobID(k)
            touched.insert(id)
            if let expected = model.cancel(id) {
                let result = try await store.cancel(jobID: id)
                try check(result == expected, "cancel of job \(id) answered \(result), the model \(expected)")
                // Short names for the coverage's events (the result's description is a sentence for people).
                switch expected {
                case .cancelled: note("cancel: cancelled")
                case .requested: note("cancel: requested")
                case .alreadyFinished(let state): note("cancel: already \(state.rawValue)")
                }
            } else {
                do {
                    let r = try await store.cancel(jobID: id)
                    throw Disagreement(step: stepIndex, what: "cancel of job \(id), which does not exist, answered \(r)")
                } catch JobStoreError.notFound(id) {}
            }

        case .retry(let k):
            let id = jobID(k)
            touched.insert(id)
            if model.canRetry(id) {
                let job = try await store.retry(jobID: id)
                model.retry(id)
                note("retry: accepted")
                try expectSame(job, "retry's answer")
                return
            }
            do {
                let job = try await store.retry(jobID: id)
                throw Disagreement(step: stepIndex, what: "retry of job \(id) (\(model.jobs[id].map { "\($0.state)" } ?? "no such job")) was accepted: \(job.state)")
            } catch JobStoreError.notFound(id) {
                try check(model.jobs[id] == nil, "retry of job \(id): the store says it does not exist")
            } catch JobStoreError.invalidState(jobID: id, state: let state, action: _) {
                try check(model.jobs[id]?.state == state, "retry of job \(id) refused as \(state); the model has \(String(describing: model.jobs[id]?.state))")
            }

        case .holdForReview(let k):
            // Review is the operators' contract; a bare queue (the self-test's broken store) has none.
            guard let ops = store as? any OperatorStore, let l = lease(k),
                  let result = try await fenced(l, "hold for review", { try await ops.holdForReview(l.store, stage: "publish") }) else { return }
            let held = model.holdForReview(l.model)
            switch result {
            case .approved:
                try check(!held, "hold of job \(l.model.jobID): the store let it through; the model holds it")
            case .held(let job):
                try check(held, "hold of job \(l.model.jobID): the store held it; the model has it approved")
                try expectSame(job, "hold's answer")
            }

        case .approve(let k), .reject(let k):
            guard let ops = store as? any OperatorStore else { return }
            // Mostly a job that waits for review (there are few at a time); one time in four any job.
            let waiting = model.jobs.values.filter { $0.state == .review }.map(\.id).sorted()
            let id = !waiting.isEmpty && k % 4 != 3 ? waiting[k % waiting.count] : jobID(k)
            touched.insert(id)
            let approving = if case .approve = step { true } else { false }
            let decide: () async throws -> Job = approving
                ? { try await ops.approve(jobID: id, by: "model") }
                : { try await ops.reject(jobID: id, reason: "the model says no", by: "model") }
            if model.canDecide(id) {
                let job = try await decide()
                if approving { model.approve(id) } else { model.reject(id) }
                note("\(approving ? "approve" : "reject"): accepted")
                try expectSame(job, "\(approving ? "approve" : "reject")'s answer")
                return
            }
            do {
                let job = try await decide()
                throw Disagreement(step: stepIndex, what: "deciding job \(id) (\(model.jobs[id].map { "\($0.state)" } ?? "no such job")) was accepted: \(job.state)")
            } catch JobStoreError.notFound(id) {
                try check(model.jobs[id] == nil, "deciding job \(id): the store says it does not exist")
            } catch JobStoreError.invalidState(jobID: id, state: let state, action: _) {
                try check(model.jobs[id]?.state == state, "deciding job \(id) refused as \(state); the model has \(String(describing: model.jobs[id]?.state))")
            }

        case .retryAllFailed(let c):
            let channel = c.map { QueueModelStep.channels[$0] }
            let ids = try await store.retryAllFailed(channel: channel)
            let expected = model.retryAllFailed(channel: channel)
            touched.formUnion(expected)
            try check(ids == expected, "retry all failed (\(channel ?? "all channels")): store \(ids), model \(expected)")

        case .reclaim:
            let report = try await store.reclaim()
            let expected = model.reclaim()
            if !expected.deadWorkers.isEmpty { note("reclaim: dead workers") }
            if !(expected.requeued + expected.failed).isEmpty { note("reclaim: jobs freed") }
            touched.formUnion(expected.requeued + expected.failed)
            touched.formUnion(model.jobs.keys)
            // Which of a sweep's two passes freed a job is the store's business: compare as sets.
            try check(report.deadWorkers.sorted() == expected.deadWorkers.sorted() && report.requeued.sorted() == expected.requeued.sorted()
                      && report.failed.sorted() == expected.failed.sorted(),
                      "reclaim: store dead \(report.deadWorkers) requeued \(report.requeued) failed \(report.failed); "
                      + "model dead \(expected.deadWorkers) requeued \(expected.requeued) failed \(expected.failed)")

        case .kill(let slot):
            let id = workerID(slot)
            try await engine.killWorker(id)
            model.workers[id]?.alive = false
            incarnation[slot] += 1
            try await startWorker(slot)

        case .stop(let slot):
            let id = workerID(slot)
            try await engine.stopWorker(id)
            touched.formUnion(model.jobs.values.filter { $0.leaseOwner == id }.map(\.id))
            model.stop(worker: id)
            incarnation[slot] += 1
            try await startWorker(slot)

        case .prune(let age, let batch):
            let cutoff = model.now - age
            let count = try await store.prune(finishedBefore: Clock.date(cutoff), batchSize: batch)
            let gone = model.prune(before: cutoff)
            if !gone.isEmpty { note("prune: jobs deleted") }
            try check(count == gone.count, "prune before now-\(age)ms deleted \(count) jobs; the model deletes \(gone) ")
            for id in gone {
                let row = try await store.job(id: id)
                let attempts = try await store.attempts(jobID: id)
                let stages = try await store.stages(jobID: id)
                try check(row == nil && attempts.isEmpty && stages.isEmpty,
                          "pruned job \(id) left \(row.map { "its row (\($0.state))" } ?? "") \(attempts.count) attempts \(stages.count) stages")
            }

        case .advance(let ms):
            model.now += ms
            clock.set(model.now)
        }
    }
}
