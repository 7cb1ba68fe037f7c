import Foundation
import Testing
import YTAutoCore

/// The engine-independent rules (``JobRules``, ``SchedulingRules``), without a database.
@Suite struct RulesTests {
    let now = Timestamp.date("2026-11-30T12:00:00.000Z")!

    func job(attempt: Int, of max: Int, cancel: Bool = false, runAt: Date? = nil, stage: String? = nil) -> Job {
        Job(id: 1, channel: "facts", topic: "t", payload: "{}", state: .running, priority: 0, runAt: runAt ?? now, attempt: attempt,
            maxAttempts: max, leaseOwner: "w", leaseToken: 3, leaseExpiresAt: now, cancelRequested: cancel, currentStage: stage,
            uniqueKey: nil, lastErrorCode: nil, lastErrorMessage: nil, createdAt: now, updatedAt: now, finishedAt: nil)
    }

    let retryable = JobFailure(code: "llm.http", message: "503", isRetryable: true)
    let permanent = JobFailure(code: "llm.auth", message: "401", isRetryable: false)

    @Test func aFailureRetriesWithBackoffWhileAttemptsLastThenFails() {
        let policy = RetryPolicy(base: .seconds(10), cap: .seconds(60))
        var rng = SplitMix64(seed: 7)
        for attempt in 1...2 {
            guard case .retry(let at, let refund) = JobRules.afterFailure(of: job(attempt: attempt, of: 3), error: retryable, policy: policy, now: now, using: &rng) else {
                Issue.record("attempt \(attempt) of 3 should retry")
                continue
            }
            // Equal jitter: within [d/2, d] of d = base · 2^(n-1).
            let d = 10.0 * pow(2, Double(attempt - 1))
            #expect(at.timeIntervalSince(now) >= d / 2 && at.timeIntervalSince(now) <= d)
            #expect(!refund)
        }
        #expect(JobRules.afterFailure(of: job(attempt: 3, of: 3), error: retryable, policy: policy, now: now, using: &rng) == .failed)
        #expect(JobRules.afterFailure(of: job(attempt: 1, of: 3), error: permanent, policy: policy, now: now, using: &rng) == .failed)
        #expect(JobRules.afterFailure(of: job(attempt: 1, of: 3, cancel: true), error: retryable, policy: policy, now: now, using: &rng) == .cancelled)
    }

    @Test func theBackoffIsCappedAndAnErrorsOwnTimeWinsWithinTwoDays() {
        let policy = RetryPolicy(base: .seconds(15), cap: .seconds(3600))
        var rng = SplitMix64(seed: 1)
        for attempt in [10, 40, 1000] {
            guard case .retry(let at, _) = JobRules.afterFailure(of: job(attempt: attempt, of: 2000), error: retryable, policy: policy, now: now, using: &rng) else {
                Issue.record("should retry")
                continue
            }
            #expect(at.timeIntervalSince(now) >= 1800 && at.timeIntervalSince(now) <= 3600, "attempt \(attempt)")
        }
        var later = retryable
        later.retryAt = now.addingTimeInterval(90)
        #expect(JobRules.afterFailure(of: job(attempt: 1, of: 3), error: later, policy: policy, now: now, using: &rng) == .retry(at: now.addingTimeInterval(90), refund: false))
        later.retryAt = now.addingTimeInterval(1e12)
        #expect(JobRules.afterFailure(of: job(attempt: 1, of: 3), error: later, policy: policy, now: now, using: &rng)
                == .retry(at: now.addingTimeInterval(RetryPolicy.longestRequestedWait), refund: false))
    }

    /// A parked quota does not spend the attempt: it retries even on the last one, refunded.
    @Test func anErrorThatSpendsNoAttemptAlwaysRetriesRefunded() {
        var rng = SplitMix64(seed: 2)
        let parked = JobFailure(code: "youtube.quota", message: "daily quota", isRetryable: true, retryAt: now.addingTimeInterval(3600), spendsAttempt: false)
        #expect(JobRules.afterFailure(of: job(attempt: 3, of: 3), error: parked, policy: .init(), now: now, using: &rng)
                == .retry(at: now.addingTimeInterval(3600), refund: true))
    }

    @Test func aLostAttemptRequeuesInItsPlaceUntilTheLastThenFails() {
        let earlier = now.addingTimeInterval(-600)
        #expect(JobRules.afterLoss(of: job(attempt: 1, of: 3, runAt: earlier), now: now) == .retry(at: earlier, refund: false))
        #expect(JobRules.afterLoss(of: job(attempt: 3, of: 3), now: now) == .failed)
        #expect(JobRules.afterLoss(of: job(attempt: 1, of: 3, cancel: true), now: now) == .cancelled)
        let failure = JobRules.lossFailure(of: job(attempt: 2, of: 3, stage: "clips"), code: "worker.lost", message: "worker w died")
        #expect(failure.message == "worker w died (attempt 2 of 3, stage clips)" && failure.isRetryable && failure.code == "worker.lost")
    }

    func channel(_ policy: MissedSlotPolicy, window: Int = 86_400) -> ChannelConfig {
        var c = ChannelConfig.defaults(for: .facts)
        c.missedSlots = policy
        c.catchUpWindow = window
        return c
    }

    func firings(_ minutesAgo: [Double]) -> [(at: Date, expression: String)] {
        minutesAgo.map { (now.addingTimeInterval(-$0 * 60), "0 * * * *") }
    }

    @Test(arguments: [MissedSlotPolicy.all, .skip, .latest])
    func lateSlotsFollowThePolicyWithinTheWindow(policy: MissedSlotPolicy) {
        // Three late slots (5 h, 3 h, 1 h ago), one older than a 4 h window, none on time.
        let verdicts = SchedulingRules.verdicts(for: firings([300, 180, 60]), channel: channel(policy, window: 4 * 3600), now: now)
        #expect(verdicts[0].kind == .missed && verdicts[0].detail == "older than catch_up_window 4h")
        let runs = verdicts.dropFirst().map { $0.kind == .enqueued }
        switch policy {
        case .all: #expect(runs == [true, true])
        case .skip: #expect(runs == [false, false])
        case .latest: #expect(runs == [false, true])
        }
        // With an on-time slot (1 minute ago), `latest` runs no late one; the on-time one always runs.
        let withOnTime = SchedulingRules.verdicts(for: firings([180, 60, 1]), channel: channel(policy), now: now)
        #expect(withOnTime.last?.kind == .enqueued)
        #expect(withOnTime.dropLast().map { $0.kind == .enqueued } == [policy == .all, policy == .all])
    }

    /// A slot on time runs whatever the window: a `catch_up_window` under the two minutes a slot
    /// stays on time (`0s`: never catch up) still runs the slots that are due now; only late ones
    /// are missed.
    @Test(arguments: [0, 60])
    func aSlotOnTimeRunsWhateverTheCatchUpWindow(window: Int) {
        let verdicts = SchedulingRules.verdicts(for: firings([60, 1.5, 0]), channel: channel(.all, window: window), now: now)
        #expect(verdicts.map(\.kind) == [.missed, .enqueued, .enqueued], "\(verdicts)")
        #expect(verdicts[0].detail?.contains("older than catch_up_window") == true)
    }

    @Test func aPausedChannelsSlotsThatWouldRunArePausedAndMissedOnesStayMissed() {
        let verdicts = SchedulingRules.verdicts(for: firings([300, 180, 1]), channel: channel(.all, window: 4 * 3600), now: now)
        #expect(verdicts.map(\.kind) == [.missed, .enqueued, .enqueued])
        #expect(SchedulingRules.paused(verdicts, by: nil) == verdicts)
        let pause = ChannelPause(channel: "facts", pausedAt: now.addingTimeInterval(-3600), pausedBy: "cli:ops")
        let paused = SchedulingRules.paused(verdicts, by: pause)
        #expect(paused.map(\.kind) == [.missed, .paused, .paused])
        #expect(paused[0].detail == verdicts[0].detail)
        #expect(paused.dropFirst().allSatisfy { $0.detail == pause.slotDetail && $0.detail?.contains("cli:ops") == true })
    }

    @Test func firingsAreEachInstantOnceOldestFirst() throws {
        let every30 = try CronExpression("*/30 * * * *"), hourly = try CronExpression("0 * * * *")
        let f = SchedulingRules.firings(of: [hourly, every30], after: now.addingTimeInterval(-3600), through: now, in: TimeZone(identifier: "UTC")!)
        #expect(f.map(\.at) == [now.addingTimeInterval(-1800), now])
        #expect(f.map(\.expression) == ["*/30 * * * *", "0 * * * *"])  // the instant both fire is named by the first listed
    }

    @Test func topicsNeverUsedComeFirstThenTheOldestOutsideTheWindow() {
        let day = 86_400.0
        let topics = ["a", "b", "c"]
        #expect(SchedulingRules.pickTopic(topics, lastUse: ["a": now], recencyDays: 30, now: now) == "b")
        #expect(SchedulingRules.pickTopic(topics, lastUse: ["a": now.addingTimeInterval(-40 * day), "b": now.addingTimeInterval(-50 * day), "c": now],
                                          recencyDays: 30, now: now) == "b")
        let allRecent: [String: Date] = ["a": now, "b": now.addingTimeInterval(-2 * day), "c": now.addingTimeInterval(-1 * day)]
        #expect(SchedulingRules.pickTopic(topics, lastUse: allRecent, recencyDays: 30, now: now) == nil)
        #expect(SchedulingRules.pickTopic(topics, lastUse: allRecent, recencyDays: 0, now: now) == "b")
        let suggestion = SchedulingRules.suggestTopic(topics, lastUse: allRecent, recencyDays: 30, now: now)
        #expect(suggestion?.topic == "b" && suggestion?.recent == true)
        #expect(SchedulingRules.suggestTopic([], lastUse: [:], recencyDays: 30, now: now) == nil)
    }

    /// In one pass the topics picked for earlier slots count as used before the later picks,
    /// though all were decided at the same instant: a catch-up pass rotates through the topics.
    @Test func aPassRotatesThroughTopicsDecidedAtTheSameInstant() {
        let topics = ["a", "b", "c"]
        var used: [String: Date] = [:]
        var picked: [String] = []
        for _ in 0..<7 {
            let topic = SchedulingRules.pickTopic(topics, lastUse: used, recencyDays: 0, now: now, pickedBefore: picked)
            guard let topic else { Issue.record("no topic"); return }
            picked.append(topic)
            used[topic] = now
        }
        #expect(picked == ["a", "b", "c", "a", "b", "c", "a"])
        // A topic used longer ago still goes before the ones of this pass.
        #expect(SchedulingRules.pickTopic(topics + ["d"], lastUse: used.merging(["d": now.addingTimeInterval(-60)]) { $1 },
                                          recencyDays: 0, now: now, pickedBefore: picked) == "d")
    }

    /// A held work's run is judged by its worker's record: the newest worker of that host and
    /// process id started before the hold (a later worker with the same id is another process).
    @Test func aHeldWorksRunEndsWithItsWorker() {
        func worker(_ id: String, pid: Int32 = 42, host: String = "a", _ state: WorkerRecord.State, startedHoursAgo: Double,
                    stoppedHoursAgo: Double = 1) -> WorkerRecord {
            let started = now.addingTimeInterval(-startedHoursAgo * 3_600)
            return WorkerRecord(id: id, pid: pid, hostname: host, lockPath: "/x/\(id).lock", state: state, startedAt: started,
                                lastSeenAt: now, stoppedAt: state == .running ? nil : now.addingTimeInterval(-stoppedHoursAgo * 3_600))
        }
        let holder = HeldWorkHolder(host: "a", pid: 42, since: now.addingTimeInterval(-2 * 3_600))
        let ended = holder.ended(among:now:)
        #expect(ended([worker("w1", .dead, startedHoursAgo: 5)], now) == true)
        #expect(ended([worker("w1", .stopped, startedHoursAgo: 5)], now) == true)
        #expect(ended([worker("w1", .running, startedHoursAgo: 5)], now) == false)
        // Not its worker: another process id, another host, or started after the hold began.
        #expect(ended([worker("w1", pid: 43, .dead, startedHoursAgo: 5)], now) == nil)
        #expect(ended([worker("w1", host: "b", .dead, startedHoursAgo: 5)], now) == nil)
        #expect(ended([worker("w1", .dead, startedHoursAgo: 1)], now) == nil)
        #expect(ended([], now) == nil)
        // Its process id used again later: the worker that held it is the one before the hold.
        #expect(ended([worker("w2", .running, startedHoursAgo: 1), worker("w1", .dead, startedHoursAgo: 5)], now) == true)
        #expect(ended([worker("w0", .dead, startedHoursAgo: 9), worker("w1", .running, startedHoursAgo: 5)], now) == false)
        // Found dead only lately (a PostgreSQL session that dropped may come back): not yet.
        #expect(ended([worker("w1", .dead, startedHoursAgo: 5, stoppedHoursAgo: 0.1)], now) == false)
        #expect(ended([worker("w1", .stopped, startedHoursAgo: 5, stoppedHoursAgo: 0.1)], now) == true)
        // A worker of that id that stopped before the hold began is not its holder.
        #expect(ended([worker("w1", .stopped, startedHoursAgo: 5, stoppedHoursAgo: 3)], now) == nil)
        // A worker's start stamped by a clock up to ten minutes behind the holder's still counts.
        #expect(ended([worker("w1", .dead, startedHoursAgo: 2 - 5.0 / 60)], now) == true)
    }

    /// A holder that named its worker is judged by that worker's record alone: containers on the
    /// host's network share its name, and each may run its worker as process 1.
    @Test func aHeldWorksRunNamingItsWorkerEndsWithThatWorker() {
        func worker(_ id: String, _ state: WorkerRecord.State, startedHoursAgo: Double) -> WorkerRecord {
            WorkerRecord(id: id, pid: 1, hostname: "shared", lockPath: "/x/\(id).lock", state: state,
                         startedAt: now.addingTimeInterval(-startedHoursAgo * 3_600), lastSeenAt: now,
                         stoppedAt: state == .running ? nil : now.addingTimeInterval(-3_600))
        }
        // Both process 1 on `shared`, both started before the hold: c1 (the newer) has stopped, c2 runs.
        let registry = [worker("c1", .stopped, startedHoursAgo: 3), worker("c2", .running, startedHoursAgo: 4)]
        let since = now.addingTimeInterval(-2 * 3_600)
        #expect(HeldWorkHolder(host: "shared", pid: 1, since: since, worker: "c2").ended(among: registry, now: now) == false)
        #expect(HeldWorkHolder(host: "shared", pid: 1, since: since, worker: "c1").ended(among: registry, now: now) == true)
        // By its id even where its host or process no longer agree (a host renamed since).
        #expect(HeldWorkHolder(host: "renamed", pid: 7, since: since, worker: "c1").ended(among: registry, now: now) == true)
        #expect(HeldWorkHolder(host: "shared", pid: 1, since: since, worker: "c3").ended(among: registry, now: now) == nil)
        // With no id, host and process id alone pick the newer, c1: the ambiguity ids remove.
        #expect(HeldWorkHolder(host: "shared", pid: 1, since: since).ended(among: registry, now: now) == true)
    }
}
